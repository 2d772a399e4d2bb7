"""Read plan YAML files, explain what is wrong with them, and turn them into `plan_*` rows.

`read_plans(path)` returns validated `Plan`s (a file may hold several versions as YAML
documents separated by `---`) or raises `PlanError` whose lines name the field and the reason.
`plan_tables(plan)` builds one Arrow table per `plan_*` table; `load_plans(sink, plans)` inserts
them (idempotent: a re-load of the same version replaces its rows).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml
from pydantic import ValidationError

from touchline.schemas.plan import Plan
from touchline.sinks.clickhouse import ClickHouseSink

_TS = pa.timestamp("ms", tz="UTC")


class PlanError(ValueError):
    """A plan file that cannot be used; `problems` holds one line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source, self.problems = source, problems
        super().__init__(f"{source}: " + "; ".join(problems))

    def explain(self) -> str:
        """Multi-line text for a person."""
        lines = [f"{self.source}: {len(self.problems)} problem(s)"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


def _location(loc: tuple[Any, ...]) -> str:
    """`cadences.outbound-8.steps[2].channel`: list positions count from 1, like steps."""
    text = ""
    for part in loc:
        text += f"[{part + 1}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "(plan)"


def explain_validation(exc: ValidationError, prefix: str = "") -> list[str]:
    """One `field.path: reason` line per pydantic error."""
    lines = []
    for err in exc.errors(include_url=False):
        msg = err["msg"].removeprefix("Value error, ")
        loc = _location(err["loc"])
        if err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling)"
        lines.append(f"{prefix}{loc}: {msg}")
    return lines


def parse_plans(text: str, source: str = "<plan>") -> list[Plan]:
    """Validate every YAML document of `text` as a Plan.

    Raises:
        PlanError: the YAML does not parse or a plan is invalid (all problems listed).
    """
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PlanError(source, [f"{where}not valid YAML ({problem})"]) from None
    if not docs:
        raise PlanError(source, ["the file holds no plan"])
    plans: list[Plan] = []
    problems: list[str] = []
    for i, doc in enumerate(docs):
        prefix = f"document {i + 1}: " if len(docs) > 1 else ""
        if not isinstance(doc, dict):
            problems.append(f"{prefix}a plan is a mapping of fields, got {type(doc).__name__}")
            continue
        try:
            plans.append(Plan.model_validate(doc))
        except ValidationError as exc:
            problems += explain_validation(exc, prefix)
    seen: dict[tuple[str, dt.datetime], str] = {}
    for plan in plans:
        key = (plan.tenant, plan.effective_from)
        if key in seen:
            problems.append(
                f"plan_version {plan.plan_version}: same tenant and effective_from as "
                f"{seen[key]}"
            )
        seen[key] = plan.plan_version
    if problems:
        raise PlanError(source, problems)
    return plans


def read_plans(path: str | Path) -> list[Plan]:
    """Read and validate a plan file.

    Raises:
        PlanError: unreadable file, bad YAML or an invalid plan.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(str(path), [f"cannot read the file ({exc.__class__.__name__}: "
                                    f"{getattr(exc, 'strerror', None) or exc})"]) from None
    return parse_plans(text, str(path))


def plan_tables(plan: Plan, tenant: str | None = None,
                loaded_at: dt.datetime | None = None) -> dict[str, pa.Table]:
    """Rows of every plan table for one plan version (tenant overrides the plan's)."""
    tenant = tenant or plan.tenant
    loaded_at = loaded_at or dt.datetime.now(dt.UTC)
    head = {"tenant": tenant, "plan_version": plan.plan_version,
            "effective_from": plan.effective_from}

    def table(rows: list[dict[str, Any]], types: dict[str, pa.DataType]) -> pa.Table:
        schema = pa.schema([("tenant", pa.string()), ("plan_version", pa.string()),
                            ("effective_from", _TS), *types.items()])
        return pa.Table.from_pylist([{**head, **r} for r in rows], schema=schema)

    stage_slas = [{"segment": seg, "stage": stage, "sla_s": sla}
                  for seg, sp in plan.segments.items() for stage, sla in sp.stage_slas.items()]
    targets = [{"role": role, "activity": act, "weekly_target": n}
               for role, rp in plan.roles.items() for act, n in rp.weekly_targets.items()]
    steps = [{"cadence_id": cid, "step": i, "channel": st.channel, "wait_s": st.wait}
             for cid, cp in plan.cadences.items() for i, st in enumerate(cp.steps, start=1)]
    tiers = [{"tier": name, "untouched_after_s": tp.untouched_after,
              "speed_to_lead_s": tp.speed_to_lead} for name, tp in plan.tiers.items()]
    source = plan.model_dump_json()
    version_row = {
        "loaded_at": loaded_at, "stages": plan.stages, "closed_stages": plan.closed_stages,
        "default_segment": plan.defaults.segment, "default_tier": plan.defaults.tier,
        "default_role": plan.defaults.role,
        "cadence_behind_steps": plan.coaching.cadence_behind_steps,
        "cadence_behind_min_prospects": plan.coaching.cadence_behind_min_prospects,
        "cadence_grace_s": plan.coaching.cadence_grace,
        "activity_mix_min_ratio": plan.coaching.activity_mix_min_ratio,
        "activity_mix_min_elapsed_s": plan.coaching.activity_mix_min_elapsed,
        "idle_rep_after_s": plan.coaching.idle_rep_after,
        "deal_inactive_after_s": plan.coaching.deal_inactive_after,
        "source": source,
    }
    return {
        "plan_stage_slas": table(stage_slas, {"segment": pa.string(), "stage": pa.string(),
                                              "sla_s": pa.uint64()}),
        "plan_activity_targets": table(targets, {"role": pa.string(), "activity": pa.string(),
                                                 "weekly_target": pa.uint32()}),
        "plan_cadence_steps": table(steps, {"cadence_id": pa.string(), "step": pa.uint8(),
                                            "channel": pa.string(), "wait_s": pa.uint64()}),
        "plan_tiers": table(tiers, {"tier": pa.string(), "untouched_after_s": pa.uint64(),
                                    "speed_to_lead_s": pa.uint64()}),
        "plan_versions": table([version_row], {
            "loaded_at": _TS, "stages": pa.list_(pa.string()),
            "closed_stages": pa.list_(pa.string()), "default_segment": pa.string(),
            "default_tier": pa.string(), "default_role": pa.string(),
            "cadence_behind_steps": pa.uint16(), "cadence_behind_min_prospects": pa.uint32(),
            "cadence_grace_s": pa.uint64(), "activity_mix_min_ratio": pa.float64(),
            "activity_mix_min_elapsed_s": pa.uint64(), "idle_rep_after_s": pa.uint64(),
            "deal_inactive_after_s": pa.uint64(), "source": pa.string()}),
    }


#: plan_versions last: a version becomes visible only once its rows are in
LOAD_ORDER = ("plan_stage_slas", "plan_activity_targets", "plan_cadence_steps", "plan_tiers",
              "plan_versions")


def load_plans(sink: ClickHouseSink, plans: list[Plan],
               tenant: str | None = None) -> dict[str, int]:
    """Insert the plans' rows; returns the row count per table.

    The dedup token is a digest of the plan, so re-loading an unchanged file inserts nothing new
    and a changed file with the same effective_from replaces the old rows.
    """
    counts: dict[str, int] = dict.fromkeys(LOAD_ORDER, 0)
    for plan in plans:
        tables = plan_tables(plan, tenant)
        digest = hashlib.sha256(plan.model_dump_json().encode()).hexdigest()[:16]
        for name in LOAD_ORDER:
            data = tables[name]
            # plan_versions carries loaded_at, so its token must not depend on the load time
            sink.insert(name, data, token=f"plan:{tenant or plan.tenant}:{digest}:{name}")
            counts[name] += data.num_rows
    return counts


def plan_summary(plan: Plan) -> str:
    """One line about a plan version for the CLI."""
    return (f"{plan.tenant} {plan.plan_version} from {plan.effective_from:%Y-%m-%d %H:%M}Z: "
            f"{len(plan.stages)} stages, {len(plan.segments)} segments, {len(plan.tiers)} tiers, "
            f"{len(plan.roles)} roles, {len(plan.cadences)} cadences")
