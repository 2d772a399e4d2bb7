"""The shipped example plan, for `touchline demo` and first runs.

`load_example_plan(sink)` loads examples/plan.yaml (idempotent) so the demo's simulated events
are judged against a plan: plan-vs-actual views fill, signals fire, the cadence report compares.
"""

from __future__ import annotations

from pathlib import Path

from touchline.plan.loader import PlanError, load_plans, plan_summary, read_plans
from touchline.sinks.clickhouse import ClickHouseSink

#: the example plan in a source checkout (the editable install the demo runs from)
EXAMPLE_PLAN = Path(__file__).resolve().parents[2] / "examples" / "plan.yaml"


def load_example_plan(sink: ClickHouseSink, tenant: str | None = None,
                      path: Path = EXAMPLE_PLAN) -> str:
    """Load the example plan (as `tenant` when given); returns a one-line summary.

    Raises:
        PlanError: the file is missing or invalid.
    """
    if not path.is_file():
        raise PlanError(str(path), ["the example plan is not there (run from a source checkout "
                                    "or pass a plan file to `touchline plan load`)"])
    plans = read_plans(path)
    load_plans(sink, plans, tenant)
    return "; ".join(plan_summary(p) for p in plans)
