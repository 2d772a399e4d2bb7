"""`touchline simulate --org-file` and a year of history: the org loads, every line validates,
and the events agree with the org file (checked from the file, not from the simulator).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict, namedtuple

import pytest
from click.testing import CliRunner

from tests.org.conftest import run_org
from touchline.cli.main import main
from touchline.org.loader import read_org
from touchline.schemas.activity import parse_activity
from touchline.schemas.vendors.stage_map import DEFAULT_STAGE_MAP

pytestmark = pytest.mark.integration

START = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
#: halfway through 365 days before START, at midnight UTC
MOVE = dt.datetime(2026, 5, 31, tzinfo=dt.UTC)
SALESFORCE_STAGES = {"Prospecting", "Value Proposition", "Proposal/Price Quote",
                     "Negotiation/Review", "Closed Won", "Closed Lost"}
HUBSPOT_STAGES = {"appointmentscheduled", "presentationscheduled", "contractsent", "closedwon",
                  "closedlost"}


def simulate(tmp_path, days: int, seed: int = 21):
    tmp_path.mkdir(parents=True, exist_ok=True)
    org_file, history = tmp_path / f"org-{days}.yaml", tmp_path / f"history-{days}.jsonl"
    result = CliRunner().invoke(main, [
        "simulate", "--seed", str(seed), "--tenant", "simco", "--start", "2026-11-30T00:00:00",
        "--history-days", str(days), "--malformed", "0", "--late", "0",
        "--jsonl", str(history), "--org-file", str(org_file)])
    assert result.exit_code == 0, result.output
    return org_file, history, result.output


#: what the checks read of each event (a year of full models would take a gigabyte)
Event = namedtuple("Event", "type occurred_at source rep_id team_id account_id opportunity_id "
                            "from_stage to_stage vendor_stage editor_id is_closed is_won")


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    org_file, history, output = simulate(tmp_path_factory.mktemp("sim-year"), 365)
    events = []
    with history.open("rb") as lines:
        for line in lines:
            e = parse_activity(line)  # raises on any line that is not a valid event
            events.append(Event(*(getattr(e, f, None) for f in Event._fields)))
    assert f"simulated {len(events)} events into {history}" in output
    return read_org([org_file]), org_file, events


def test_the_org_file_loads(year, sink, tenant):
    org, org_file, _ = year
    result = run_org(sink, "load", str(org_file), "--tenant", tenant)
    assert result.exit_code == 0, result.output
    # 3 teams of 4 SDRs and 2 AEs, a manager each; 40 worked + 3 dormant accounts a team
    assert "3 teams, 21 reps (22 periods), 129 accounts" in result.output
    mover = [(p.team_id, p.active_from, p.active_to) for p in org.reps if p.rep_id == "sdr-eas-4"]
    assert mover == [("team-west", dt.datetime(1970, 1, 1, tzinfo=dt.UTC), MOVE),
                     ("team-east", MOVE, None)]
    roles = defaultdict(int)
    for rep_id in org.rep_ids():
        roles[org.period_in_force(rep_id, START).role] += 1
    assert dict(roles) == {"manager": 3, "sdr": 12, "ae": 6}
    stored = sink.query("SELECT team_id, manager_rep_id FROM touchline.teams "
                        "WHERE tenant = {t:String} ORDER BY team_id", {"t": tenant}).rows
    assert stored == [("team-east", "mgr-eas"), ("team-enterprise", "mgr-ent"),
                      ("team-west", "mgr-wes")]


def test_a_year_of_history_validates_and_follows_the_org(year):
    org, _, events = year
    assert len(events) > 300_000  # about one step a minute for a year
    first = min(e.occurred_at for e in events)
    last = max(e.occurred_at for e in events)
    assert START - dt.timedelta(days=366) < first < START - dt.timedelta(days=364)
    # the clock steps 30-90 s at a time: the last step may end just past START
    assert START - dt.timedelta(days=1) < last <= START + dt.timedelta(seconds=91)
    # every event's rep is in the org file, in the team in force then (out-of-order events are
    # shifted back up to an hour after their team was chosen: the hour after the move is left
    # out for the mover)
    periods = defaultdict(list)
    for p in org.reps:
        periods[p.rep_id].append(p)
    for e in events:
        if e.rep_id == "sdr-eas-4" and MOVE - dt.timedelta(hours=1) <= e.occurred_at < MOVE:
            continue
        [period] = [p for p in periods[e.rep_id] if p.in_force(e.occurred_at)]
        assert e.team_id == period.team_id, e
    mover_teams = {e.team_id for e in events if e.rep_id == "sdr-eas-4"
                   and abs(e.occurred_at - MOVE) > dt.timedelta(hours=1)}
    assert mover_teams == {"team-west", "team-east"}
    # accounts the org owns that never see an event: the dormant ones, untouched from day one
    worked = {e.account_id for e in events}
    idle = {a.account_id for a in org.accounts} - worked
    assert {a for a in idle if "-d0" in a} == {f"acct-{t}-d{i:02d}" for t in ("eas", "wes", "ent")
                                               for i in (1, 2, 3)}


def test_crm_deals_send_vendor_stages_without_from_stage(year):
    _, _, events = year
    changes = [e for e in events if e.type == "stage_change"]
    by_source = defaultdict(list)
    for e in changes:
        by_source[e.source].append(e)
    assert set(by_source) == {"simulator", "salesforce", "hubspot"}
    for e in by_source["salesforce"] + by_source["hubspot"]:
        assert e.from_stage is None and e.editor_id and e.editor_id != e.rep_id, e
        assert e.editor_id.startswith("mgr-") and e.rep_id.startswith("ae-")
    assert {e.vendor_stage for e in by_source["salesforce"]} == SALESFORCE_STAGES
    assert {e.vendor_stage for e in by_source["hubspot"]} == HUBSPOT_STAGES
    for e in by_source["salesforce"]:  # CDC's IsClosed / IsWon
        assert (e.is_closed, e.is_won) == (e.vendor_stage in ("Closed Won", "Closed Lost"),
                                           e.vendor_stage == "Closed Won"), e
    assert all(e.is_closed is None and e.is_won is None for e in by_source["hubspot"])
    assert all(e.vendor_stage is None and e.from_stage for e in by_source["simulator"]
               if e.to_stage != "discovery")
    # the stage each CRM name stands for is the one the vendor mappers' stage map gives it
    pairs = {(e.source, e.vendor_stage, e.to_stage) for e in changes if e.vendor_stage}
    assert {(src, name, DEFAULT_STAGE_MAP.lookup(src, name)) for src, name, _ in pairs} == pairs


def test_enterprise_deals_move_for_months(year):
    org, _, events = year
    segment = {a.account_id: a.segment for a in org.accounts}
    deals = defaultdict(list)
    for e in events:
        if e.type == "stage_change" and segment[e.account_id] == "enterprise":
            deals[e.opportunity_id].append((e.occurred_at, e.to_stage))
    won_after = [max(deal)[0] - min(deal)[0] for deal in deals.values()
                 if max(deal)[1] == "won"]
    # the plan's enterprise SLAs are 60-180 days a stage: won deals take months
    assert len(won_after) > 20
    assert sum(d > dt.timedelta(days=180) for d in won_after) > 10


def test_same_seed_same_files(tmp_path):
    a_org, a_history, _ = simulate(tmp_path / "a", 10, seed=5)
    b_org, b_history, _ = simulate(tmp_path / "b", 10, seed=5)
    c_org, c_history, _ = simulate(tmp_path / "c", 10, seed=6)
    assert a_history.read_bytes() == b_history.read_bytes() != c_history.read_bytes()
    assert a_org.read_text() == b_org.read_text()


def test_live_simulation_loads_its_org_through_the_store(tmp_path, kafka_bootstrap):
    """`touchline simulate` (live, as `touchline demo` runs it) loads the simulated org."""
    import subprocess
    import sys
    import uuid

    from touchline.settings import ClickHouseSettings, KafkaSettings, Settings
    from touchline.sinks.clickhouse import ClickHouseSink
    from touchline.stack.services import child_env, free_port, start_store
    from touchline.stack.topics_admin import ensure_topics

    settings = Settings(data_dir=tmp_path, clickhouse=ClickHouseSettings(store_port=free_port()),
                        kafka=KafkaSettings(bootstrap=kafka_bootstrap,
                                            raw_topic=f"raw-{uuid.uuid4().hex[:8]}"))
    ensure_topics(settings)
    store = start_store(settings)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "touchline", "simulate", "--seed", "4", "--tenant", "livesim",
             "--count", "300", "--rate", "2000", "--history-days", "4"],
            env=child_env(settings), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "simulated 300 events" in done.stdout
        sink = ClickHouseSink(settings.store_url()).start()
        try:
            periods = sink.query(
                "SELECT rep_id, team_id, active_to < '2106-01-01' FROM touchline.rep_periods "
                "WHERE tenant = 'livesim' AND rep_id = 'sdr-eas-4' ORDER BY active_from").rows
            counts = sink.query(
                "SELECT (SELECT count() FROM touchline.teams WHERE tenant = 'livesim'), "
                "(SELECT count() FROM touchline.reps FINAL WHERE tenant = 'livesim'), "
                "(SELECT count() FROM touchline.accounts FINAL WHERE tenant = 'livesim')").rows
        finally:
            sink.close()
    finally:
        store.stop()
    assert periods == [("sdr-eas-4", "team-west", 1), ("sdr-eas-4", "team-east", 0)]
    assert counts == [(3, 21, 129)]
