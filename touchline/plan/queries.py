"""SQL for the Coach step. `{db}` is the database; `{name:Type}` are parameters.

The rules themselves are views (sinks/ddl/0013_rules.sql, named in touchline.plan.rules);
what is left here finds the plan in force and reads the signals already written.
"""

from __future__ import annotations

from touchline.sinks.clickhouse import ClickHouseSink

#: the plan version in force at `at`, with its plan-wide settings
PLAN_IN_FORCE = """
SELECT *
FROM {db}.plan_versions FINAL
WHERE tenant = {tenant:String} AND effective_from <= {at:DateTime64(3, 'UTC')}
ORDER BY effective_from DESC
LIMIT 1
"""

#: tenants with a plan in force at `now`
PLANNED_TENANTS = """
SELECT DISTINCT tenant FROM {db}.plan_versions FINAL
WHERE effective_from <= {now:DateTime64(3, 'UTC')}
ORDER BY tenant
"""

#: the latest version of every signal of some tenants
CURRENT_SIGNALS = """
SELECT * FROM {db}.signals FINAL WHERE tenant IN {tenants:Array(String)}
"""


def sql(sink: ClickHouseSink, text: str) -> str:
    """`text` with the sink's database filled in."""
    return text.replace("{db}", sink.database)
