"""`touchline org load|list` against the running stack's store, as a user runs them.

While `touchline up`/`demo` runs, the store process owns the engine and the CLI goes through its
HTTP API (sinks/connect.py): inserts, the DELETE of dropped reps and accounts, and reads.
"""

from __future__ import annotations

import uuid

import pytest
from click.testing import CliRunner

from tests.org.conftest import EXAMPLE_ORG
from touchline.cli.main import main

pytestmark = pytest.mark.integration


def run(*args: str):
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def state(sink, tenant):
    return {view: sink.query(f"SELECT * EXCEPT tenant FROM touchline.{view} "
                             "WHERE tenant = {t:String} ORDER BY ALL", {"t": tenant}).rows
            for view in ("teams", "rep_periods")} | {
        table: sink.query(f"SELECT * EXCEPT (tenant, updated_at) FROM touchline.{table} FINAL "
                          "WHERE tenant = {t:String} ORDER BY ALL", {"t": tenant}).rows
        for table in ("reps", "accounts")}


def test_load_bad_file_and_reload_through_the_store(cli_store, tmp_path):
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    loaded = run("org", "load", str(EXAMPLE_ORG), "--tenant", tenant)
    assert loaded.exit_code == 0, loaded.output
    assert f"loaded for tenant {tenant}: 2 teams, 5 reps (6 periods), 3 accounts" in loaded.output
    before = state(cli_store, tenant)
    assert [r[0] for r in before["reps"]] == ["rep-ana", "rep-ben", "rep-cy", "rep-maya",
                                             "rep-omar"]
    assert len(before["rep_periods"]) == 6 and len(before["accounts"]) == 3

    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE_ORG.read_text().replace("    tier: C\n", "    tier: C\n    owner: x\n"))
    result = run("org", "load", str(bad), "--tenant", tenant)
    assert result.exit_code == 1
    assert f"{bad}: accounts[2].owner: unknown field (check the spelling)" in result.output
    assert state(cli_store, tenant) == before

    # Ben and acct-globex leave the file: gone from the org views, reps and accounts
    text = EXAMPLE_ORG.read_text()
    ben = text[text.index("  - rep_id: rep-ben\n"):text.index("  # Cy moved")]
    globex = text[text.index("  - account_id: acct-globex\n"):]
    smaller = tmp_path / "smaller.yaml"
    smaller.write_text(text.replace(ben, "").replace(globex, ""))
    result = run("org", "load", str(smaller), "--tenant", tenant)
    assert result.exit_code == 0, result.output
    assert "removed: org_rep_periods=1, reps=1, accounts=1" in result.output
    after = state(cli_store, tenant)
    assert [r[0] for r in after["reps"]] == ["rep-ana", "rep-cy", "rep-maya", "rep-omar"]
    assert [r[0] for r in after["rep_periods"]] == ["rep-ana", "rep-cy", "rep-cy", "rep-maya",
                                                   "rep-omar"]
    assert [r[0] for r in after["accounts"]] == ["acct-acme", "acct-test"]

    listed = run("org", "list", "--tenant", tenant)
    assert listed.exit_code == 0, listed.output
    assert f"tenant {tenant}: 2 teams, 4 reps (5 periods), 2 accounts" in listed.output
    assert "in force now" in listed.output and "rep-ben" not in listed.output
