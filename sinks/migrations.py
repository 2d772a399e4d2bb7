"""Versioned, idempotent schema migrations: sinks/ddl/NNNN_name.sql, applied in order.

Each file is applied once and recorded in `schema_migrations` with its checksum; running
`migrate` again changes nothing. Statements use IF NOT EXISTS so a half-applied file
(e.g. a crash mid-way) completes on the next run.

A file's checksum covers its statements, not its comment lines or layout. A store keeps what it
applied: if an applied migration's statements change later, `migrate` refuses
(`MigrationChanged`) until it is told to apply that file and every later one again
(`reapply_changed`, `touchline sink init --reapply-changed`): views are replaced with the
current text, while tables and materialized views that exist are kept as they are, and fills
of tables that hold rows read nothing. tests/unit/test_migration_checksums.py holds the
committed checksums, so a change to a committed migration is a deliberate one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from importlib.resources import files

from touchline.sinks.clickhouse import Backend
from touchline.sinks.errors import MigrationChanged


def migration_files() -> list[tuple[str, str]]:
    """(version, sql text) of every migration, in order."""
    ddl = files("touchline.sinks").joinpath("ddl")
    names = sorted(p.name for p in ddl.iterdir() if p.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), ddl.joinpath(name).read_text()) for name in names]


def statements(sql: str, database: str) -> list[str]:
    """Split a migration into statements, with `{db}` filled in; comments dropped."""
    lines = [ln for ln in sql.splitlines() if not ln.strip().startswith("--")]
    text = "\n".join(lines).replace("{db}", database)
    return [s.strip() for s in text.split(";") if s.strip()]


def earlier_view(version: str, view: str, database: str, reads: Iterable[str] = ()) -> str:
    """A statement creating `view` as migration `version` wrote it, under the name `old_<view>`.

    The views of `reads` that it names are read as `old_<name>` too (their earlier texts,
    created the same way). Tests and benchmarks compare a rewritten view with the text it
    replaced this way; the statement replaces an `old_<view>` already there.
    """
    (text,) = [s for s in statements(dict(migration_files())[version], database)
               if s.startswith((f"CREATE VIEW IF NOT EXISTS {database}.{view} ",
                                f"CREATE OR REPLACE VIEW {database}.{view} "))]
    for name in (view, *reads):
        text = text.replace(f"{database}.{name}(", f"{database}.old_{name}(").replace(
            f"{database}.{name} AS", f"{database}.old_{name} AS")
    return text.replace("CREATE VIEW IF NOT EXISTS", "CREATE OR REPLACE VIEW", 1)


def checksum(sql: str) -> str:
    """The checksum `schema_migrations` records: of the statements, not comment lines or layout."""
    text = "\n".join(" ".join(st.split()) for st in statements(sql, "{db}"))
    return "s1:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def _text_checksum(sql: str) -> str:
    """The checksum recorded before `checksum`: of the whole file, comments included."""
    return hashlib.sha256(sql.encode()).hexdigest()[:16]


#: a worker that wrote a progress row this recently counts as writing
WRITING_WITHIN_S = 60


def _recorded(backend: Backend, database: str) -> dict[str, str]:
    """Each applied version -> the checksum last recorded for it ({} before any migration)."""
    if not _exists(backend, database, "schema_migrations"):
        return {}
    return {row[0]: row[1] for row in backend.query(
        f"SELECT version, argMax(checksum, applied_at) FROM {database}.schema_migrations "
        "GROUP BY version", None, False).rows}


#: committed migrations whose statements changed where what a store applied from the earlier
#: text is still right: version -> the checksums of those texts (`checksum`, and the whole-file
#: one recorded before it). A store holding one is not asked to apply the migration again.
#: 0007, 0011 and 0030: `rep_week_vs_target` took an activity's count (UInt64) or its share of
#: leads touched within the SLA (Float64) from one multiIf; ClickHouse 25.8 (the compose's
#: server) finds no common type for the two and refused the view, so `touchline sink init`
#: stopped at 0007 there. The counts are cast to Float64 now; the engines that accepted the
#: earlier text (chdb 4.4, ClickHouse 26.9) made Float64 of them already: the same rows.
EARLIER_TEXTS: dict[str, frozenset[str]] = {
    "0007_plan_inspect": frozenset({"s1:f91971bb2ee4d80b", "ac9b29aeef5108fe"}),
    "0011_org": frozenset({"s1:c231f72f148182be", "ae4b836bc4621fa0"}),
    "0030_speed_to_lead_weeks": frozenset({"s1:be92ab5059bd7698", "6131bf21016c403f"}),
}


def _changed(files: list[tuple[str, str]], recorded: dict[str, str]) -> list[str]:
    """The applied migrations whose statements differ from what the store recorded, in order.

    A checksum recorded before `checksum` covered the whole file: such a file counts as
    changed if any of its text changed. An earlier text listed in `EARLIER_TEXTS` does not
    count as a change.
    """
    return [version for version, sql in files if version in recorded
            and recorded[version] not in (checksum(sql), _text_checksum(sql))
            and recorded[version] not in EARLIER_TEXTS.get(version, ())]


def _to_apply(files: list[tuple[str, str]], recorded: dict[str, str],
              changed: list[str]) -> list[tuple[str, str]]:
    """The files to apply, in order: those never applied, and from the first changed one on."""
    return [(version, sql) for version, sql in files
            if version not in recorded or (changed and version >= changed[0])]


def _exists(backend: Backend, database: str, table: str) -> bool:
    return bool(backend.query(
        "SELECT count() FROM system.tables WHERE database = {d:String} AND name = {t:String}",
        {"d": database, "t": table}, False).rows[0][0])


def pending_fills(backend: Backend, database: str, reapply_changed: bool = False) -> list[str]:
    """Pending migrations that fill a new table from the rows already stored (INSERT ... SELECT).

    Such a fill reads `activities` as it is at that moment: rows a worker writes meanwhile
    reach the new table twice, or not at all (0010, 0021, 0033, 0034). With `reapply_changed`,
    the applied migrations `migrate` would apply again count as pending.
    """
    files, recorded = migration_files(), _recorded(backend, database)
    changed = _changed(files, recorded) if reapply_changed else []
    return [version for version, sql in _to_apply(files, recorded, changed)
            if any(st.upper().startswith("INSERT INTO") for st in statements(sql, database))]


def writers_within(backend: Backend, database: str,
                   seconds: int = WRITING_WITHIN_S) -> list[str]:
    """The workers that wrote a progress row (`pipeline_metrics`) in the last `seconds`."""
    if not _exists(backend, database, "pipeline_metrics"):
        return []
    return [row[0] for row in backend.query(
        f"SELECT DISTINCT worker FROM {database}.pipeline_metrics "
        "WHERE ts >= now64(3) - toIntervalSecond({s:UInt32}) ORDER BY worker",
        {"s": seconds}, False).rows]


def _upgrade_checksums(backend: Backend, database: str, files: list[tuple[str, str]],
                       recorded: dict[str, str]) -> None:
    """Record `checksum` for each applied file whose whole-file checksum still matches.

    Later edits of its comments then pass; without this, they would count as a change.
    """
    values = ", ".join(f"('{version}', '{checksum(sql)}')" for version, sql in files
                       if recorded.get(version) == _text_checksum(sql))
    if values:
        backend.command(
            f"INSERT INTO {database}.schema_migrations (version, checksum) VALUES {values}")


def ledger_ddl(database: str) -> str:
    """The table that records each applied migration and its checksum."""
    return (f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations "
            "(version String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
            "ENGINE = ReplacingMergeTree ORDER BY version")


def migrate(backend: Backend, database: str, reapply_changed: bool = False) -> list[str]:
    """Apply pending migrations; return the versions applied by this call.

    Raises MigrationChanged when an applied migration's statements have changed since, unless
    `reapply_changed`: then that migration and every later one are applied again, in order.
    """
    backend.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    backend.command(ledger_ddl(database))
    files, recorded = migration_files(), _recorded(backend, database)
    changed = _changed(files, recorded)
    if changed and not reapply_changed:
        which = (f"migration {changed[0]} changed since this store applied it"
                 if len(changed) == 1
                 else f"migrations {', '.join(changed)} changed since this store applied them")
        raise MigrationChanged(
            f"{which}: the store's views may not be what the code reads. Stop the workers, "
            f"then run `touchline sink init --reapply-changed` (applies {changed[0]} and every "
            "later migration again; tables and materialized views that exist are kept)")
    _upgrade_checksums(backend, database, files, recorded)
    applied: list[str] = []
    for version, sql in _to_apply(files, recorded, changed):
        for statement in statements(sql, database):
            backend.command(statement)
        backend.command(
            f"INSERT INTO {database}.schema_migrations (version, checksum) "
            f"VALUES ('{version}', '{checksum(sql)}')"
        )
        applied.append(version)
    return applied
