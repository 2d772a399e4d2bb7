"""Expand a panel's SQL the way Grafana + grafana-clickhouse-datasource do, to run it elsewhere.

Order as in Grafana: the plugin's frontend first resolves `$__conditionalAll(cond, $var)` and
the dashboard variables (`${var}`, `${var:singlequote}`, `$var`; a multi-value variable without a
format becomes `'a','b'`), then the plugin backend expands its macros (pkg/macros/macros.go):

- `$__timeFilter(c)`   -> `c >= toDateTime(FROM) AND c <= toDateTime(TO)` (unix seconds)
- `$__timeFilter_ms(c)`-> the same with `fromUnixTimestamp64Milli(ms)`
- `$__dateFilter(c)`   -> `c >= toDate('YYYY-MM-DD') AND c <= toDate('YYYY-MM-DD')`
- `$__timeInterval(c)` -> `toStartOfInterval(toDateTime(c), INTERVAL N second)`
- `$__fromTime` / `$__toTime` -> `toDateTime(unix seconds)`; `$__interval_s` -> N

Anything left that looks like a variable or macro is an error, so a typo cannot pass silently.

Variable values are values, never SQL: each becomes an escaped string literal (or a plain
number) after the macros are expanded, so a value's text is never read as a macro or as SQL.
A variable used without quotes (`$v`, `${v:raw}`) takes numbers only; anything else is an
error that names the variable (the local panel takes its values from URL parameters).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

ALL = "$__all"

VariableValue = str | Sequence[str]


class MacroError(ValueError):
    """The SQL uses a macro or variable that cannot be expanded."""


@dataclass(frozen=True)
class QueryContext:
    """What Grafana knows when it runs a panel: time range, interval, variable values."""

    time_from: dt.datetime
    time_to: dt.datetime
    interval_s: int = 60
    variables: Mapping[str, VariableValue] = field(default_factory=dict)

    @classmethod
    def last(cls, seconds: int, interval_s: int = 60,
             variables: Mapping[str, VariableValue] | None = None,
             now: dt.datetime | None = None) -> QueryContext:
        """The range `now-<seconds>` .. `now`, like a relative time picker or alert range."""
        end = now or dt.datetime.now(dt.UTC)
        return cls(end - dt.timedelta(seconds=seconds), end, interval_s, dict(variables or {}))


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
#: stands for the n-th variable value while macros are expanded (cannot occur in SQL text)
_SLOT = re.compile(r"\x00(\d+)\x00")


def _raw(value: str, name: str) -> str:
    if not _NUMBER.fullmatch(value):
        raise MacroError(f"variable ${name} is used unquoted, so it takes a number, not "
                         f"{value[:40]!r}: write ${{{name}:singlequote}} for text")
    return value


def _format(value: VariableValue, fmt: str | None, name: str) -> str:
    if value == ALL:
        raise MacroError(f"variable ${name} is 'All' outside $__conditionalAll")
    values = [value] if isinstance(value, str) else list(value)
    if fmt is None:  # the plugin's own formatter: arrays quoted and joined, scalars raw
        if isinstance(value, str):
            return _raw(value, name)
        return ",".join(_quote(v) for v in values)
    if fmt == "singlequote":
        return ",".join(_quote(v) for v in values)
    if fmt == "raw":
        return ",".join(_raw(v, name) for v in values)
    raise MacroError(f"unsupported variable format :{fmt} in ${{{name}:{fmt}}}")


_VAR = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)\]\]|\$(?!__)(\w+)")


def _macro_args(sql: str, open_at: int) -> tuple[list[str], int]:
    """Arguments of a macro call whose '(' is at open_at, split at top-level commas."""
    depth, start, args = 0, open_at + 1, []
    for i in range(open_at, len(sql)):
        ch = sql[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append(sql[start:i])
                return args, i + 1
        elif ch == "," and depth == 1:
            args.append(sql[start:i])
            start = i + 1
    raise MacroError("unbalanced parentheses in a macro call")


def _conditional_all(sql: str, variables: Mapping[str, VariableValue]) -> str:
    macro = "$__conditionalAll("
    at = sql.rfind(macro)
    while at != -1:
        args, end = _macro_args(sql, at + len(macro) - 1)
        if len(args) != 2:
            raise MacroError("$__conditionalAll takes two arguments")
        name = args[1].strip().lstrip("$").strip("{}")
        if name not in variables:
            raise MacroError(f"unknown variable ${name}")
        value = variables[name]
        phrase = "1=1" if value in ("", ALL) else args[0]
        sql = sql[:at] + phrase + sql[end:]
        at = sql.rfind(macro)
    return sql


def _slot_variables(sql: str, variables: Mapping[str, VariableValue]) -> tuple[str, list[str]]:
    """$__conditionalAll, then every variable replaced by a slot; the slots' SQL literals."""
    if "\x00" in sql:
        raise MacroError("the SQL contains a NUL character")
    sql = _conditional_all(sql, variables)
    literals: list[str] = []

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(3) or m.group(4)
        if name not in variables:
            raise MacroError(f"unknown variable ${name}")
        literals.append(_format(variables[name], m.group(2), name))
        return f"\x00{len(literals) - 1}\x00"

    return _VAR.sub(repl, sql), literals


def _fill_slots(sql: str, literals: list[str]) -> str:
    return _SLOT.sub(lambda m: literals[int(m.group(1))], sql)


def substitute_variables(sql: str, variables: Mapping[str, VariableValue]) -> str:
    """The frontend step: $__conditionalAll, then every dashboard variable."""
    return _fill_slots(*_slot_variables(sql, variables))


def _dt(t: dt.datetime) -> str:
    return f"toDateTime({int(t.timestamp())})"


def _dt_ms(t: dt.datetime) -> str:
    return f"fromUnixTimestamp64Milli({int(t.timestamp() * 1000)})"


def _date(t: dt.datetime) -> str:
    return f"toDate('{t.astimezone(dt.UTC):%Y-%m-%d}')"


def expand_macros(sql: str, ctx: QueryContext) -> str:
    """The plugin backend step: `$__name(args)` and `$__name` macros."""
    interval = max(int(ctx.interval_s), 1)
    f, t = ctx.time_from, ctx.time_to
    with_arg = {
        "timeFilter": lambda c: f"{c} >= {_dt(f)} AND {c} <= {_dt(t)}",
        "timeFilter_ms": lambda c: f"{c} >= {_dt_ms(f)} AND {c} <= {_dt_ms(t)}",
        "dateFilter": lambda c: f"{c} >= {_date(f)} AND {c} <= {_date(t)}",
        "timeInterval": lambda c: f"toStartOfInterval(toDateTime({c}), INTERVAL {interval} second)",
        "timeInterval_ms": lambda c: (
            f"toStartOfInterval(toDateTime64({c}, 3), INTERVAL {interval * 1000} millisecond)"),
    }
    bare = {
        "fromTime": _dt(f), "toTime": _dt(t), "fromTime_ms": _dt_ms(f), "toTime_ms": _dt_ms(t),
        "interval_s": str(interval),
    }
    out: list[str] = []
    pos = 0
    for m in re.finditer(r"\$__(\w+)", sql):
        if m.start() < pos:
            continue
        name = m.group(1)
        out.append(sql[pos:m.start()])
        if name in with_arg and sql[m.end():m.end() + 1] == "(":
            args, end = _macro_args(sql, m.end())
            if len(args) != 1:
                raise MacroError(f"$__{name} takes one argument, got {len(args)}")
            out.append(with_arg[name](args[0].strip()))
            pos = end
        elif name in bare:
            out.append(bare[name])
            pos = m.end()
        else:
            raise MacroError(f"unknown macro $__{name}")
    out.append(sql[pos:])
    return "".join(out)


def expand(sql: str, ctx: QueryContext) -> str:
    """Variables, then macros: the SQL ClickHouse would receive from Grafana.

    The values go in last, so a value that looks like a macro stays text.
    """
    template, literals = _slot_variables(sql, ctx.variables)
    return _fill_slots(expand_macros(template, ctx), literals)
