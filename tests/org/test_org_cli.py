"""`touchline org validate|load|list`: field-level errors, a bad file changes nothing, a reload
replaces the org (on the engine directly; tests/org/test_org_store.py runs it through a store).
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.org.conftest import EXAMPLE_ORG, EXAMPLES, run_org
from touchline.org.loader import read_org

pytestmark = pytest.mark.integration

EXAMPLE = EXAMPLE_ORG.read_text()
CSV_FILES = [str(EXAMPLES / "org" / f"{name}.csv") for name in ("teams", "reps", "accounts")]


def write(tmp_path, text, name="org.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def snapshot(sink, tenant):
    """Everything the org tables hold for a tenant, as the views read it."""
    out = {}
    for table, order in (("teams", "team_id"), ("rep_periods", "rep_id, active_from"),
                         ("reps FINAL", "rep_id"), ("accounts FINAL", "account_id")):
        out[table] = sink.query(
            f"SELECT * EXCEPT (tenant{', updated_at' if 'FINAL' in table else ''}) "
            f"FROM touchline.{table} WHERE tenant = {{t:String}} ORDER BY {order}",
            {"t": tenant}).rows
    return out


def test_the_shipped_examples_validate_and_say_the_same():
    result = run_org(None, "validate", str(EXAMPLE_ORG))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "ok: 2 teams, 5 reps (6 periods), 3 accounts"
    result = run_org(None, "validate", *CSV_FILES)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "ok: 2 teams, 5 reps (6 periods), 3 accounts"
    from_yaml, from_csv = read_org([EXAMPLE_ORG]), read_org(CSV_FILES)
    assert from_yaml.tenant == "acme" and from_csv.tenant is None
    assert (from_yaml.teams, from_yaml.reps, from_yaml.accounts) == \
        (from_csv.teams, from_csv.reps, from_csv.accounts)
    cy = [p for p in from_yaml.reps if p.rep_id == "rep-cy"]
    assert [(p.team_id, p.active_from, p.active_to) for p in cy] == [
        ("team-west", dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
         dt.datetime(2026, 3, 15, tzinfo=dt.UTC)),
        ("team-east", dt.datetime(2026, 3, 15, tzinfo=dt.UTC), None)]


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("    role: sdr\n    team_id: team-west\n    manager_rep_id: rep-maya\n"
     "    active_from: 2026-01-05\n    hubspot",
     "    role: SDR\n    team_id: team-west\n    manager_rep_id: rep-maya\n"
     "    active_from: 2026-01-05\n    hubspot",
     "reps[4].role: 'SDR' is not a role: use a lower-case name such as sdr, ae, am or manager"),
    ("    name: Ben Okafor\n    email: ben@touchline.example\n    role: sdr\n",
     "    name: Ben Okafor\n    email: ben@touchline.example\n",
     "reps[4].role: required field is missing"),
    ("    industry: energy\n", "    industry: energy\n    revenue: 12\n",
     "accounts[3].revenue: unknown field (check the spelling)"),
    ("    active_from: 2026-03-15\n", "    active_from: mid-March\n",
     "reps[6].active_from: Input should be a valid datetime"),
    ("    active_from: 2026-03-15\n", "    active_from: 2026-03-15T00:00:00\n",
     "reps[6].active_from: Input should have timezone info"),
    ("    active_to: 2026-03-15\n", "    active_to: 2026-01-01\n",
     "reps[5].active_to: must be after active_from (2026-01-05 00:00Z)"),
    ("    active_from: 2026-03-15\n", "    active_from: 2026-03-01\n",
     "reps[6]: period of rep-cy overlaps reps[5]"),
    ("    team_id: team-east\n    manager_rep_id: rep-omar\n",
     "    team_id: team-north\n    manager_rep_id: rep-omar\n",
     "reps[6].team_id: 'team-north' is not a team of this file"),
    ("    owner_rep_id: rep-cy\n", "    owner_rep_id: rep-zed\n",
     "accounts[3].owner_rep_id: 'rep-zed' is not a rep of this file"),
    ('    hubspot_user_ids: ["45678"]\n', '    hubspot_user_ids: ["45678"]\n'
     '    salesforce_ids: ["005RM000001vI54YAE"]\n',
     "reps[4].salesforce_ids: '005RM000001vI54YAE' also belongs to rep-ana"),
    ("  - account_id: acct-globex\n", "  - account_id: acct-test\n",
     "accounts[3].account_id: 'acct-test' is listed twice (first at accounts[2])"),
    ("  - rep_id: rep-ben\n", "  - rep_id: rep ben\n",
     "reps[4].rep_id: 'rep ben' is not an id: ids have no spaces"),
    ("teams:\n", "teams: {\n", "line 17, column 3: not valid YAML (expected the node content"),
])
def test_validate_names_the_entry_and_field(tmp_path, old, new, expected):
    assert EXAMPLE.count(old) == 1, old
    path = write(tmp_path, EXAMPLE.replace(old, new))
    result = run_org(None, "validate", path)
    assert result.exit_code == 1, result.output
    assert f"{path}: {expected}" in result.output, result.output
    assert "nothing was loaded" in result.output


def test_csv_errors_name_the_file_and_line(tmp_path):
    reps = (EXAMPLES / "org" / "reps.csv").read_text()
    bad_role = reps.replace("rep-ana,Ana Ruiz,ana@touchline.example,ae,",
                            "rep-ana,Ana Ruiz,ana@touchline.example,Account Exec,")
    bad_team = reps.replace("sdr,team-east,rep-omar", "sdr,team-nowhere,rep-omar")
    teams, accounts = CSV_FILES[0], CSV_FILES[2]
    result = run_org(None, "validate", teams, write(tmp_path, bad_role, "reps.csv"), accounts)
    assert result.exit_code == 1
    assert (f"{tmp_path / 'reps.csv'}: line 4: role: 'Account Exec' is not a role"
            in result.output), result.output
    result = run_org(None, "validate", teams, write(tmp_path, bad_team, "reps.csv"), accounts)
    assert result.exit_code == 1
    assert (f"{tmp_path / 'reps.csv'}: line 7: team_id: 'team-nowhere' is not a team of this "
            "file") in result.output, result.output
    result = run_org(None, "validate", write(tmp_path, "who,what\nx,y\n", "odd.csv"))
    assert result.exit_code == 1 and "odd.csv: line 1: the header needs rep_id" in result.output
    result = run_org(None, "validate", str(tmp_path / "missing.yaml"))
    assert result.exit_code == 1 and "cannot read the file" in result.output


def test_a_bad_file_changes_nothing(sink, tenant, tmp_path):
    loaded = run_org(sink, "load", str(EXAMPLE_ORG), "--tenant", tenant)
    assert loaded.exit_code == 0, loaded.output
    before = snapshot(sink, tenant)
    assert len(before["rep_periods"]) == 6 and len(before["accounts FINAL"]) == 3
    # a file that would drop a rep and an account, with one bad field further down
    text = EXAMPLE.replace("  - rep_id: rep-ben\n", "  - rep_id: rep-bea\n").replace(
        "    tier: B\n", "    tier: B\n    size: large\n")
    result = run_org(sink, "load", write(tmp_path, text), "--tenant", tenant)
    assert result.exit_code == 1
    assert "accounts[3].size: unknown field" in result.output
    assert snapshot(sink, tenant) == before


def test_reload_replaces_the_org(sink, tenant, tmp_path):
    assert run_org(sink, "load", str(EXAMPLE_ORG), "--tenant", tenant).exit_code == 0
    # Ben leaves the file, Cy's move is undone (one open period in East), acct-test is gone,
    # a team is added
    text = EXAMPLE
    ben = text[text.index("  - rep_id: rep-ben\n"):text.index("  # Cy moved")]
    west_cy = text[text.index("  - rep_id: rep-cy\n"):text.index("  - rep_id: rep-cy\n",
                                                                  text.index("rep-cy\n") + 1)]
    test_acct = text[text.index("  - account_id: acct-test\n"):
                     text.index("  - account_id: acct-globex\n")]
    text = text.replace(ben, "").replace(west_cy, "").replace(test_acct, "").replace(
        "    active_from: 2026-03-15\n", "").replace(
        "  - {team_id: team-east, name: East, manager_rep_id: rep-omar}\n",
        "  - {team_id: team-east, name: East, manager_rep_id: rep-omar}\n"
        "  - {team_id: team-north, name: North}\n")
    result = run_org(sink, "load", write(tmp_path, text), "--tenant", tenant)
    assert result.exit_code == 0, result.output
    assert "removed: org_rep_periods=3, reps=1, accounts=1" in result.output, result.output
    got = snapshot(sink, tenant)
    assert [r[0] for r in got["teams"]] == ["team-east", "team-north", "team-west"]
    far = dt.datetime(2106, 1, 1)
    assert [(r[0], r[1], r[2], r[6]) for r in got["rep_periods"]] == [
        ("rep-ana", dt.datetime(2026, 1, 5), far, "team-west"),
        ("rep-cy", dt.datetime(1970, 1, 1), far, "team-east"),
        ("rep-maya", dt.datetime(1970, 1, 1), far, "team-west"),
        ("rep-omar", dt.datetime(1970, 1, 1), far, "team-east"),
    ]
    assert [(r[0], r[2], r[3]) for r in got["reps FINAL"]] == [
        ("rep-ana", "team-west", "ae"), ("rep-cy", "team-east", "sdr"),
        ("rep-maya", "team-west", "manager"), ("rep-omar", "team-east", "manager")]
    assert [r[0] for r in got["accounts FINAL"]] == ["acct-acme", "acct-globex"]
    # loading the same file again changes nothing
    again = run_org(sink, "load", write(tmp_path, text), "--tenant", tenant)
    assert again.exit_code == 0 and "removed" not in again.output
    assert snapshot(sink, tenant) == got


def test_list_shows_who_is_in_force_now(sink, tenant):
    assert run_org(sink, "load", str(EXAMPLE_ORG), "--tenant", tenant).exit_code == 0
    result = run_org(sink, "list", "--tenant", tenant)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"tenant {tenant}: 2 teams, 5 reps (6 periods), 3 accounts"
    assert lines[1].startswith("in force now (") and lines[1].endswith("): 5 reps")
    rows = [line.split() for line in lines[3:]]
    assert rows == [
        ["team-east", "manager", "rep-omar", "Omar", "Haddad", "-", "always"],
        ["team-east", "sdr", "rep-cy", "Cy", "Park", "rep-omar", "2026-03-15"],
        ["team-west", "ae", "rep-ana", "Ana", "Ruiz", "rep-maya", "2026-01-05"],
        ["team-west", "manager", "rep-maya", "Maya", "Chen", "-", "always"],
        ["team-west", "sdr", "rep-ben", "Ben", "Okafor", "rep-maya", "2026-01-05"],
    ]
    empty = run_org(sink, "list", "--tenant", f"{tenant}-none")
    assert "0 teams, 0 reps (0 periods), 0 accounts" in empty.output
    assert "no rep is in force now (load an org: touchline org load org.yaml)" in empty.output


def test_the_dashboard_pickers_list_the_loaded_org(sink, tenant, tmp_path):
    from touchline.dashboards import queries as q

    def picker(sql, team=""):
        sql = sql.replace("${tenant:singlequote}", f"'{tenant}'").replace(
            "${team:singlequote}", f"'{team}'")
        return [r[0] for r in sink.query(sql).rows]

    assert picker(q.VAR_TEAMS) == []
    assert run_org(sink, "load", str(EXAMPLE_ORG), "--tenant", tenant).exit_code == 0
    assert tenant in picker(q.VAR_TENANTS)
    assert picker(q.VAR_TEAMS) == ["team-east", "team-west"]
    # the team picker's reps are those in the team now: Cy moved to East in March
    assert picker(q.VAR_TEAM_REPS, "team-east") == ["rep-cy", "rep-omar"]
    assert picker(q.VAR_TEAM_REPS, "team-west") == ["rep-ana", "rep-ben", "rep-maya"]
    assert picker(q.VAR_REPS) == ["rep-ana", "rep-ben", "rep-cy", "rep-maya", "rep-omar"]
    # a team of the org file with no rep yet is in the team picker too
    teams = tmp_path / "teams.yaml"
    teams.write_text("teams: [{team_id: team-west}, {team_id: team-east}, {team_id: team-new}]\n")
    assert run_org(sink, "load", str(teams), "--tenant", tenant).exit_code == 0
    assert picker(q.VAR_TEAMS) == ["team-east", "team-new", "team-west"]
    assert picker(q.VAR_TEAM_REPS, "team-new") == []


def test_engine_errors_are_one_line(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from touchline.cli.main import main
    from touchline.settings import get_settings
    from touchline.stack.services import free_port

    def run_main(*args):
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(main, list(args))
        finally:
            get_settings.cache_clear()
        assert "Traceback" not in result.output and result.exit_code != 0
        return result.output.strip().splitlines()

    monkeypatch.setenv("TOUCHLINE_DATA_DIR", str(tmp_path / "nothing"))
    monkeypatch.setenv("TOUCHLINE_CLICKHOUSE__STORE_PORT", str(free_port()))
    assert run_main("org", "list") == [
        f"Error: no data yet in {tmp_path / 'nothing' / 'clickhouse'}: run `touchline demo` to "
        "try it with simulated events, or `touchline up` and send your own"]
    assert not (tmp_path / "nothing").exists()
    monkeypatch.setenv("TOUCHLINE_CLICKHOUSE__DSN", f"http://127.0.0.1:{free_port()}")
    [line] = run_main("org", "load", str(EXAMPLE_ORG))
    assert line.startswith("Error: cannot reach ClickHouse (") and "touchline up" in line
    [*_, line] = run_main("simulate", "--jsonl", str(tmp_path / "x.jsonl"), "--history-days", "0",
                          "--seed", "1")
    assert line == ("Error: --jsonl needs --count, --duration or --history-days (a file of "
                    "history alone: --history-days 365)")
