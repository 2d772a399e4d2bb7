"""`sink init --users`: the generated statements parse in the real ClickHouse engine (chdb's
parser via formatQuery), grant what they should, and quote names/passwords so none breaks out.

chdb has no access control (CREATE USER is ACCESS_DENIED there), so executing them needs a
ClickHouse server; with a chdb DSN the command says so in one line (tested as a subprocess).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.security import (
    SecurityConfigError,
    SecuritySettings,
    TenantTables,
    access_statements,
    quote_identifier,
    quote_string,
    tenant_tables,
)

EVIL = "p4ss'); DROP USER default; --\\'"


def security(**extra: object) -> SecuritySettings:
    return SecuritySettings(
        writer_password=SecretStr("writer-secret-1"), reader_password=SecretStr(EVIL),
        tenant_readers=SecretStr(json.dumps({"acme": "acme-secret-1", "o'brien`co": EVIL})),
        **extra,
    )


def formatted(engine: ClickHouseSink, statement: str) -> str:
    """ClickHouse's own rendering of one statement (raises on a syntax error or a 2nd one)."""
    return str(engine.query("SELECT formatQuery({q:String})", {"q": statement}).scalar())


@pytest.mark.integration
def test_tenant_tables_are_the_tables_with_a_tenant_column(engine: ClickHouseSink) -> None:
    found = tenant_tables(engine, "touchline")
    for table in ("activities", "touch_counts", "stage_visits", "opportunity_state", "signals",
                  "dlq_events"):
        assert table in found.tables
    assert "touch_counts_rolling" in found.views and "stage_visits_current" in found.views
    assert "schema_migrations" not in found.tables + found.views


@pytest.mark.integration
def test_every_statement_parses_and_grants_what_it_should(engine: ClickHouseSink) -> None:
    tables = tenant_tables(engine, "touchline")
    statements = access_statements(security(), "touchline", tables)
    rendered = [formatted(engine, s) for s in statements]  # each one is exactly one statement
    text = "\n".join(rendered)
    assert "GRANT SELECT, INSERT ON touchline.* TO touchline_writer_role" in text
    assert "CREATE SETTINGS PROFILE OR REPLACE `touchline_readonly` SETTINGS readonly = 2" in text
    assert "GRANT SELECT ON touchline.* TO touchline_reader_role" in text
    assert "SETTINGS PROFILE `touchline_readonly`" in next(
        r for r in rendered if r.startswith("CREATE USER IF NOT EXISTS touchline_reader "))
    assert "GRANT touchline_writer_role TO touchline_writer" in text
    assert "GRANT touchline_reader_role TO touchline_reader" in text
    assert "ALTER USER touchline_reader_acme IDENTIFIED WITH sha256_password BY 'acme-secret-1'" \
        in text
    for table in tables.tables:
        assert (f"CREATE ROW POLICY OR REPLACE touchline_tenant_acme ON touchline.{table} "
                f"AS permissive FOR SELECT USING tenant = 'acme' TO touchline_reader_acme"
                ).lower() in text.lower()
        assert any(r.lower().startswith(
            f"create row policy or replace touchline_all_tenants on touchline.{table} ")
            and "using 1 to all except" in r.lower() for r in rendered)
    # tenant readers see only tables/views with a tenant column, never the whole database
    assert "GRANT SELECT ON touchline.* TO touchline_reader_acme" not in text
    assert "GRANT SELECT ON touchline.activities TO touchline_reader_acme" in text


@pytest.mark.integration
def test_quotes_in_passwords_and_names_cannot_break_out(engine: ClickHouseSink) -> None:
    statements = access_statements(security(), "touchline", TenantTables(("activities",)))
    evil_users = [s for s in statements if "IDENTIFIED" in s and quote_string(EVIL) in s]
    assert len(evil_users) == 4  # reader + the odd tenant: CREATE and ALTER each
    for statement in evil_users:
        rendered = formatted(engine, statement)  # one statement: the password stayed a literal
        assert rendered.count("DROP USER") == 1 and f"BY {quote_string(EVIL)}" in rendered
    policy = next(s for s in statements if "USING tenant = 'o\\'brien`co'" in s)
    assert "`touchline_tenant_o'brien\\`co`" in formatted(engine, policy)
    with pytest.raises(Exception, match="Multi-statements|Syntax"):
        formatted(engine, f"ALTER USER x IDENTIFIED BY '{EVIL}'")  # what raw interpolation does


def test_quoting_rules() -> None:
    assert quote_identifier("a`b\\c") == "`a\\`b\\\\c`"
    assert quote_string("it's \\n") == "'it\\'s \\\\n'"
    for bad in ("", "a\x00b", "line\nbreak"):
        with pytest.raises(SecurityConfigError):
            quote_identifier(bad)
    with pytest.raises(SecurityConfigError, match="TOUCHLINE_SECURITY__WRITER_PASSWORD"):
        access_statements(SecuritySettings(reader_password=SecretStr("x" * 10)), "touchline",
                          TenantTables(()))


def test_tenant_readers_must_be_a_json_object() -> None:
    with pytest.raises(SecurityConfigError, match="JSON object"):
        SecuritySettings(tenant_readers=SecretStr("acme:pw")).tenant_passwords()


def test_statements_are_idempotent_in_form() -> None:
    for statement in access_statements(security(), "touchline", TenantTables(("activities",))):
        head = statement.split(" IDENTIFIED")[0]
        assert (" IF NOT EXISTS " in head or " OR REPLACE " in head
                or statement.startswith(("GRANT ", "ALTER USER "))), statement


@pytest.mark.integration
def test_sink_init_users_on_chdb_says_server_only(tmp_path: Path) -> None:
    env = {**os.environ, "TOUCHLINE_DATA_DIR": str(tmp_path / "data"),
           "TOUCHLINE_CLICKHOUSE__STORE_PORT": "1",
           "TOUCHLINE_SECURITY__WRITER_PASSWORD": "writer-secret-1"}
    proc = subprocess.run([sys.executable, "-m", "touchline", "sink", "init", "--users"],
                          capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Traceback" not in out and "writer-secret-1" not in out
    assert "apply to a ClickHouse server only" in out
