"""ClickHouse access control for server mode: writer, read-only reader, per-tenant readers.

`touchline sink init --users` applies `access_statements(...)` on a ClickHouse server:
- role `touchline_writer_role` (SELECT + INSERT on the database) and the pipeline's writer user;
- settings profile `touchline_readonly` (readonly = 2: queries and session settings only),
  role `touchline_reader_role` (SELECT) and the reader user for data teams and Grafana;
- per tenant listed in settings: a reader user limited by row policies `tenant = '<t>'` on
  every table with a `tenant` column, and SELECT only on tables and views that have one.
Row policies make a table invisible to users without a policy, so a permissive `USING 1`
policy keeps every other user (admin, writer, reader) seeing all rows.
Every statement is idempotent (IF NOT EXISTS / OR REPLACE; ALTER USER sets the password again);
identifiers and passwords are quoted here, never interpolated raw. The embedded engine (chdb)
has no access control, so this is for http(s):// DSNs only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import SecretStr

from touchline.settings import SecurityConfigError, SecuritySettings

WRITER_ROLE = "touchline_writer_role"
READER_ROLE = "touchline_reader_role"
READONLY_PROFILE = "touchline_readonly"
ALL_ROWS_POLICY = "touchline_all_tenants"
TENANT_POLICY_PREFIX = "touchline_tenant_"


@dataclass(frozen=True)
class TenantTables:
    """Where the tenant column lives: row policies go on tables, grants on tables and views."""

    tables: tuple[str, ...]
    views: tuple[str, ...] = ()


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def quote_identifier(name: str) -> str:
    """A backtick-quoted identifier (backslash and backtick escaped); no control characters."""
    if not name or _CONTROL.search(name):
        raise SecurityConfigError(f"invalid ClickHouse name {name!r}: empty or control characters")
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def quote_string(value: str) -> str:
    """A single-quoted string literal (backslash and quote escaped); no NUL."""
    if "\x00" in value:
        raise SecurityConfigError("a password or tenant may not contain NUL")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _password(secret: SecretStr, variable: str) -> str:
    value = secret.get_secret_value()
    if len(value) < 8:
        raise SecurityConfigError(
            f"{variable} is empty or shorter than 8 characters: set it (env or .env)")
    return value


def _user(name: str, password: str, auth: str, *extra: str) -> list[str]:
    user, secret = quote_identifier(name), quote_string(password)
    return [
        f"CREATE USER IF NOT EXISTS {user} IDENTIFIED WITH {auth} BY {secret} " + " ".join(extra),
        f"ALTER USER {user} IDENTIFIED WITH {auth} BY {secret}",
    ]


def access_statements(security: SecuritySettings, database: str,
                      tenant_tables: TenantTables) -> list[str]:
    """Every statement that creates/refreshes roles, profile, users and row policies."""
    db = quote_identifier(database)
    auth = security.auth
    writer_role, reader_role = quote_identifier(WRITER_ROLE), quote_identifier(READER_ROLE)
    profile = quote_identifier(READONLY_PROFILE)
    writer, reader = security.writer_user, security.reader_user
    sql = [
        f"CREATE ROLE IF NOT EXISTS {writer_role}",
        f"GRANT SELECT, INSERT ON {db}.* TO {writer_role}",
        f"CREATE SETTINGS PROFILE OR REPLACE {profile} SETTINGS readonly = 2",
        f"CREATE ROLE IF NOT EXISTS {reader_role}",
        f"GRANT SELECT ON {db}.* TO {reader_role}",
        *_user(writer, _password(security.writer_password,
                                 "TOUCHLINE_SECURITY__WRITER_PASSWORD"), auth,
               f"DEFAULT DATABASE {db}"),
        f"GRANT {writer_role} TO {quote_identifier(writer)}",
        *_user(reader, _password(security.reader_password,
                                 "TOUCHLINE_SECURITY__READER_PASSWORD"), auth,
               f"DEFAULT DATABASE {db} SETTINGS PROFILE {profile}"),
        f"GRANT {reader_role} TO {quote_identifier(reader)}",
    ]
    tenant_users = []
    tenants = security.tenant_passwords()
    for tenant, secret in sorted(tenants.items()):
        name = f"{security.tenant_user_prefix}{tenant}"
        tenant_users.append(quote_identifier(name))
        variable = f"TOUCHLINE_SECURITY__TENANT_READERS[{tenant}]"
        sql += _user(name, _password(secret, variable), auth,
                     f"DEFAULT DATABASE {db} SETTINGS PROFILE {profile}")
        for table in (*tenant_tables.tables, *tenant_tables.views):
            sql.append(f"GRANT SELECT ON {db}.{quote_identifier(table)} TO {tenant_users[-1]}")
    everyone_else = "ALL" + (f" EXCEPT {', '.join(tenant_users)}" if tenant_users else "")
    for table in tenant_tables.tables:
        target = f"{db}.{quote_identifier(table)}"
        sql.append(f"CREATE ROW POLICY OR REPLACE {quote_identifier(ALL_ROWS_POLICY)} ON "
                   f"{target} AS PERMISSIVE FOR SELECT USING 1 TO {everyone_else}")
        for tenant, user in zip(sorted(tenants), tenant_users, strict=True):
            policy = quote_identifier(f"{TENANT_POLICY_PREFIX}{tenant}")
            sql.append(f"CREATE ROW POLICY OR REPLACE {policy} ON {target} AS PERMISSIVE "
                       f"FOR SELECT USING tenant = {quote_string(tenant)} TO {user}")
    return sql


TENANT_TABLES_SQL = (
    "SELECT c.table, t.engine FROM system.columns AS c INNER JOIN system.tables AS t "
    "ON c.database = t.database AND c.table = t.name "
    "WHERE c.database = {db:String} AND c.name = 'tenant' ORDER BY c.table"
)


def tenant_tables(sink: object, database: str) -> TenantTables:
    """The tables (row policies) and views (grants) of `database` that have a tenant column."""
    rows = sink.query(TENANT_TABLES_SQL, {"db": database}).rows  # type: ignore[attr-defined]
    tables = tuple(name for name, engine in rows if not engine.endswith("View"))
    views = tuple(name for name, engine in rows if engine.endswith("View"))
    return TenantTables(tables, views)


def is_server_dsn(dsn: str) -> bool:
    """Access control exists on a ClickHouse server only (not chdb / the embedded store)."""
    return dsn.startswith(("http://", "https://"))


def apply_access(sink: object, security: SecuritySettings, database: str) -> list[str]:
    """Create/refresh users, roles, profile and policies; returns what was set up (no secrets)."""
    statements = access_statements(security, database, tenant_tables(sink, database))
    for statement in statements:
        sink.command(statement)  # type: ignore[attr-defined]
    return [f"writer user {security.writer_user}", f"reader user {security.reader_user}",
            *(f"tenant reader {security.tenant_user_prefix}{t}" for t in
              sorted(security.tenant_passwords()))]
