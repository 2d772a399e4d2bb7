"""`touchline alerts check`: evaluate every provisioned alert rule against ClickHouse now.

Works on the rules exactly as provisioned (the file-form rule groups), the way Grafana's
evaluator does for a SQL datasource: the query (refId A) runs over its relative time range with
the plugin's macros expanded; a table result becomes one alert instance per row, labelled by the
string columns, valued by the one numeric column; the condition expression (a threshold) decides
which instances fire. The rule's pending period (`for`) is reported, not waited for.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from touchline.dashboards.clickhouse_query import DATASOURCE_UID
from touchline.dashboards.local.macros import QueryContext, expand
from touchline.dashboards.provisioning_files import rules_file
from touchline.sinks.clickhouse import ClickHouseSink, QueryResult

#: Grafana runs alert queries with a 1 s interval unless the query sets intervalMs
ALERT_INTERVAL_S = 1

_THRESHOLDS: dict[str, Callable[[float, list[float]], bool]] = {
    "gt": lambda v, p: v > p[0],
    "lt": lambda v, p: v < p[0],
    "gte": lambda v, p: v >= p[0],
    "lte": lambda v, p: v <= p[0],
    "eq": lambda v, p: v == p[0],
    "ne": lambda v, p: v != p[0],
    "within_range": lambda v, p: p[0] < v < p[1],
    "outside_range": lambda v, p: v < p[0] or v > p[1],
    "within_range_included": lambda v, p: p[0] <= v <= p[1],
    "outside_range_included": lambda v, p: v <= p[0] or v >= p[1],
}


class RuleError(ValueError):
    """A rule that cannot be evaluated (bad result shape, unsupported expression)."""


@dataclass(frozen=True)
class Instance:
    """One alert instance: labels (string columns) and value (the numeric column)."""

    labels: dict[str, str]
    value: float | None


@dataclass(frozen=True)
class Firing:
    """An instance over its threshold, with its annotations rendered."""

    labels: dict[str, str]
    value: float | None
    summary: str
    action: str


@dataclass
class RuleResult:
    """What one rule would do right now."""

    uid: str
    title: str
    group: str
    pending: str
    instances: int = 0
    firing: list[Firing] = field(default_factory=list)
    error: str = ""


def _is_string(ch_type: str) -> bool:
    return "String" in ch_type or ch_type.startswith("Enum")


def _is_number(ch_type: str) -> bool:
    return bool(re.search(r"U?Int\d+|Float\d+|Decimal", ch_type))


def instances(result: QueryResult) -> list[Instance]:
    """A table result as Grafana turns it into alert instances (exactly one numeric column)."""
    if not result.rows:
        return []
    numeric = [i for i, t in enumerate(result.types) if _is_number(t)]
    strings = [i for i, t in enumerate(result.types) if _is_string(t)]
    other = set(range(len(result.types))) - set(numeric) - set(strings)
    if len(numeric) != 1 or other:
        raise RuleError(f"an alert query must return one numeric column and string columns, "
                        f"got {list(zip(result.columns, result.types, strict=True))}")
    (value_at,) = numeric
    out = []
    for row in result.rows:
        labels = {result.columns[i]: str(row[i]) for i in strings}
        value = row[value_at]
        out.append(Instance(labels, None if value is None else float(value)))
    return out


def threshold_passes(model: dict[str, Any], value: float | None) -> bool:
    """Apply a threshold expression's (first) condition to a value."""
    if model.get("type") != "threshold":
        raise RuleError(f"unsupported expression type {model.get('type')!r}")
    evaluator = model["conditions"][0]["evaluator"]
    test = _THRESHOLDS.get(evaluator["type"])
    if test is None:
        raise RuleError(f"unsupported threshold {evaluator['type']!r}")
    return value is not None and test(value, [float(p) for p in evaluator["params"]])


_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)
_LABEL = re.compile(r"\$labels\.(\w+)")
_VALUE = re.compile(r"\$values\.(\w+)\.Value")
_PRINTF = re.compile(r'printf\s+"%(\.\d+)?f"\s+(\$\S+)')
_IF_EQ = re.compile(r'if\s+eq\s+(\$\S+)\s+"([^"]*)"')


def _operand(expr: str, labels: dict[str, str],
             values: dict[str, float | None]) -> str | float | None:
    lm = _LABEL.fullmatch(expr)
    if lm:
        return labels.get(lm.group(1), "")
    vm = _VALUE.fullmatch(expr)
    if vm:
        return values.get(vm.group(1))
    raise RuleError(f"unsupported template operand {expr}")


def _print(expr: str, labels: dict[str, str], values: dict[str, float | None]) -> str:
    pm = _PRINTF.fullmatch(expr)
    if pm:  # Go's %.Nf, as Python's (both round the binary value to nearest)
        value = _operand(pm.group(2), labels, values)
        if value is None:  # what Go prints for a missing operand (no data)
            return "%!f(<nil>)"
        if isinstance(value, str):
            return f"%!f(string={value})"
        return f"%{pm.group(1) or '.6'}f" % value
    value = _operand(expr, labels, values)
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else value


def render(template: str, labels: dict[str, str], values: dict[str, float | None]) -> str:
    """Render the subset of Grafana's Go templates the rules use.

    `{{ $labels.x }}`, `{{ $values.A.Value }}`, `{{ printf "%.1f" $values.A.Value }}` and
    `{{ if eq $labels.x "text" }}...{{ else if eq ... }}...{{ else }}...{{ end }}` (nestable),
    with `{{-`/`-}}` trimming; anything else is a RuleError, as an unknown function fails in
    Grafana.
    """
    out: list[str] = []
    #: per open `if`: (was the enclosing text being written, is this branch being written)
    stack: list[tuple[bool, bool]] = []
    writing, pos, trim_next = True, 0, False
    for m in _ACTION.finditer(template):
        text = template[pos:m.start()]
        if trim_next:
            text = text.lstrip()
        if m.group(1):
            text = text.rstrip()
        if writing:
            out.append(text)
        pos, trim_next = m.end(), bool(m.group(3))
        expr = m.group(2)
        cond = _IF_EQ.fullmatch(expr)
        if cond:
            taken = writing and str(_operand(cond.group(1), labels, values)) == cond.group(2)
            stack.append((writing, taken))
            writing = taken
        elif expr == "else" or expr.startswith("else "):
            if not stack:
                raise RuleError("{{ else }} without {{ if }}")
            outer, taken = stack[-1]
            branch = _IF_EQ.fullmatch(expr.removeprefix("else ").strip())
            if expr != "else" and not branch:
                raise RuleError(f"unsupported template action {{{{ {expr} }}}}")
            writing = outer and not taken and (
                not branch or str(_operand(branch.group(1), labels, values)) == branch.group(2))
            stack[-1] = (outer, taken or writing)
        elif expr == "end":
            if not stack:
                raise RuleError("{{ end }} without {{ if }}")
            writing = stack.pop()[0]
        elif writing:
            out.append(_print(expr, labels, values))
        else:  # a branch not taken is not run, but must still be a supported form
            _print(expr, {}, {})
    if stack:
        raise RuleError("{{ if }} without {{ end }}")
    text = template[pos:]
    out.append(text.lstrip() if trim_next else text)
    return "".join(out)


def evaluate(sink: ClickHouseSink, rule: dict[str, Any], group: str,
             now: dt.datetime | None = None) -> RuleResult:
    """Evaluate one file-form rule against the sink."""
    now = now or dt.datetime.now(dt.UTC)
    res = RuleResult(rule["uid"], rule["title"], group, rule.get("for", "0s"))
    try:
        by_ref = {d["refId"]: d for d in rule["data"]}
        queries = [d for d in rule["data"] if d["datasourceUid"] == DATASOURCE_UID]
        if len(queries) != 1:
            raise RuleError("a touchline rule has exactly one ClickHouse query")
        query = queries[0]
        rng = query["relativeTimeRange"]
        ctx = QueryContext(now - dt.timedelta(seconds=rng["from"]),
                           now - dt.timedelta(seconds=rng["to"]), ALERT_INTERVAL_S)
        found = instances(sink.query(expand(query["model"]["rawSql"], ctx)))
        res.instances = len(found)
        condition = by_ref[rule["condition"]]["model"]
        if condition.get("expression") != query["refId"]:
            raise RuleError("the condition must read the query directly")
        annotations = rule.get("annotations", {})
        if not found and rule.get("noDataState") == "Alerting":
            found = [Instance({"alertstate": "NoData"}, None)]
            fire_all = True
        else:
            fire_all = False
        for inst in found:
            if fire_all or threshold_passes(condition, inst.value):
                values = {query["refId"]: inst.value}
                res.firing.append(Firing(
                    inst.labels, inst.value,
                    render(annotations.get("summary", ""), inst.labels, values),
                    render(annotations.get("action", ""), inst.labels, values)))
    except Exception as exc:  # one broken rule must not hide the others
        res.error = str(exc).splitlines()[0][:300]
    return res


def check(sink: ClickHouseSink, now: dt.datetime | None = None) -> list[RuleResult]:
    """Evaluate every provisioned rule."""
    now = now or dt.datetime.now(dt.UTC)
    return [evaluate(sink, rule, group["name"], now)
            for group in rules_file()["groups"] for rule in group["rules"]]


def format_results(results: list[RuleResult]) -> str:
    """Human-readable report: what fires, for whom, why, and what to do."""
    lines = []
    for r in results:
        if r.error:
            lines.append(f"ERROR   {r.title} [{r.uid}]: {r.error}")
            continue
        if not r.firing:
            lines.append(f"ok      {r.title}: {r.instances} checked, none over threshold")
            continue
        lines.append(f"FIRING  {r.title}: {len(r.firing)} of {r.instances} "
                     f"(pending period {r.pending})")
        for f in r.firing:
            who = " ".join(f"{k}={f.labels[k]}" for k in ("team", "rep") if k in f.labels)
            value = "no data" if f.value is None else f"{f.value:.4g}"
            lines.append(f"  - {who or 'ops'} (value {value})")
            lines.append(f"      why: {f.summary}")
            lines.append(f"      do:  {f.action}")
    return "\n".join(lines)
