"""Versioned, idempotent schema migrations: sinks/ddl/NNNN_name.sql, applied in order.

Each file is applied once and recorded in `schema_migrations` with its checksum; running
`migrate` again changes nothing. Statements use IF NOT EXISTS so a half-applied file
(e.g. a crash mid-way) completes on the next run.
"""

from __future__ import annotations

import hashlib
from importlib.resources import files

from touchline.sinks.clickhouse import Backend


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


def migrate(backend: Backend, database: str) -> list[str]:
    """Apply pending migrations; return the versions applied by this call."""
    backend.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    backend.command(
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations "
        "(version String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        "ENGINE = ReplacingMergeTree ORDER BY version"
    )
    done = {
        row[0]
        for row in backend.query(
            f"SELECT version FROM {database}.schema_migrations", None, False
        ).rows
    }
    applied: list[str] = []
    for version, sql in migration_files():
        if version in done:
            continue
        for statement in statements(sql, database):
            backend.command(statement)
        checksum = hashlib.sha256(sql.encode()).hexdigest()[:16]
        backend.command(
            f"INSERT INTO {database}.schema_migrations (version, checksum) "
            f"VALUES ('{version}', '{checksum}')"
        )
        applied.append(version)
    return applied
