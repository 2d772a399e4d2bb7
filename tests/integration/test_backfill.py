"""A year of history for two tenants, loaded into a running pipeline while live data flows.

Invariant: history of any age, shuffled, with repeated lines, invalid lines (one of them
twice) and lines already stored before the load, ends up exactly as if it had arrived in
order: every valid event once, touch counts per rep and day, stage visits of deals that moved
months apart without `from_stage`, and the DLQ all as the generator below computes them
(independently of the pipeline); `ingest --wait` accounts for every line; live events of
both tenants keep flowing while it runs (their freshness is printed, not asserted).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from touchline.load.ingest_file import ingest_file
from touchline.load.produce import send_batches

pytestmark = pytest.mark.integration

TENANTS = ("north", "south")
STAGES = ("discovery", "demo", "proposal", "negotiation", "won", "lost")
DAY = timedelta(days=1)


class History:
    """A deterministic year of one org's activity, with its truth."""

    def __init__(self, seed: int, now: datetime) -> None:
        rng = random.Random(seed)
        self.events: list[dict] = []
        start = now - 365 * DAY
        for tenant in TENANTS:
            reps = [f"{tenant}-r{i}" for i in range(6)]
            for n in range(3000):
                rep = rng.choice(reps)
                kind = rng.choice(("call", "email", "meeting"))
                at = start + timedelta(seconds=rng.randrange(364 * 86400))
                event = {"event_id": f"h-{n}", "tenant": tenant, "type": kind,
                         "source": "crm-export", "occurred_at": at.isoformat(), "rep_id": rep,
                         "team_id": f"{tenant}-team", "account_id": f"{tenant}-a{n % 40}",
                         "prospect_id": f"{tenant}-p{n % 300}"}
                event.update({"call": {"outcome": rng.choice(("connected", "no_answer"))},
                              "email": {"action": rng.choice(("sent", "opened"))},
                              "meeting": {"status": rng.choice(("held", "scheduled"))}}[kind])
                self.events.append(event)
            for o in range(40):  # deals that move months apart; CRM exports say no from_stage
                at = start + timedelta(days=rng.randrange(100))
                path = list(STAGES[:rng.randrange(2, 5)]) + [rng.choice(("won", "lost"))]
                for k, stage in enumerate(path):
                    self.events.append({
                        "event_id": f"s-{o}-{k}", "tenant": tenant, "type": "stage_change",
                        "source": "crm-export", "occurred_at": at.isoformat(),
                        "rep_id": reps[o % 6], "team_id": f"{tenant}-team",
                        "account_id": f"{tenant}-a{o}", "opportunity_id": f"{tenant}-o{o}",
                        "to_stage": stage})
                    at += timedelta(days=rng.randrange(20, 50), hours=rng.randrange(24))

    @staticmethod
    def is_touch(e: dict) -> bool:
        return (e["type"] == "call" or (e["type"] == "email" and e["action"] == "sent")
                or (e["type"] == "meeting" and e["status"] == "held"))

    def touches_by_rep_day(self, events: list[dict]) -> Counter:
        return Counter((e["tenant"], e["rep_id"], datetime.fromisoformat(e["occurred_at"])
                        .astimezone(UTC).date()) for e in events if self.is_touch(e))

    def visits(self) -> dict[tuple[str, str], list[tuple[str, datetime, datetime | None]]]:
        by_opp = defaultdict(list)
        for e in self.events:
            if e["type"] == "stage_change":
                by_opp[(e["tenant"], e["opportunity_id"])].append(
                    (datetime.fromisoformat(e["occurred_at"]), e["event_id"], e["to_stage"]))
        out = {}
        for key, changes in by_opp.items():
            changes.sort()
            out[key] = [(stage, at, changes[i + 1][0] if i + 1 < len(changes) else None)
                        for i, (at, _, stage) in enumerate(changes)]
        return out


class LiveTraffic(threading.Thread):
    """Calls of both tenants stamped with the time they are sent, until stopped."""

    def __init__(self, settings, rate: float) -> None:
        super().__init__(daemon=True)
        self.settings, self.rate = settings, rate
        self.stop_flag = threading.Event()
        self.events: list[dict] = []

    def run(self) -> None:
        n = 0
        while not self.stop_flag.is_set():
            batch = []
            for _ in range(int(self.rate / 10)):
                tenant = TENANTS[n % 2]
                batch.append({"event_id": f"live-{n}", "tenant": tenant, "type": "call",
                              "source": "dialer", "outcome": "no_answer",
                              "occurred_at": datetime.now(UTC).isoformat(),
                              "rep_id": f"{tenant}-r{n % 6}", "team_id": f"{tenant}-team",
                              "account_id": f"{tenant}-a{n % 40}"})
                n += 1
            send_batches(self.settings, [orjson.dumps(e) for e in batch], batch=50)
            self.events += batch
            time.sleep(0.1)


def test_a_year_of_history_loads_exactly_into_a_running_pipeline(pipeline_factory, tmp_path):
    p = pipeline_factory()  # default allowed lateness (7 days): nearly all history is older
    now = datetime.now(UTC).replace(microsecond=0)
    history = History(seed=13, now=now)
    rng = random.Random(7)
    lines = [orjson.dumps(e) for e in history.events]
    already = lines[:150]  # an earlier, partial export: these are stored before the load
    p.produce(already, batch=50)
    p.wait_rows("activities", len(already))
    invalid = [b'{"event_id": "bad-1", "tenant": "north", "type": "call"}',
               b'{"event_id": "bad-2", "tenant": "south", "type": "fax", "occurred_at": "x"}',
               b"not json at all"]
    repeated = rng.sample(lines, 400)
    file_lines = lines + repeated + invalid + [invalid[0]] + [b" " + lines[5]]
    rng.shuffle(file_lines)
    path = tmp_path / "history.jsonl"
    path.write_bytes(b"\n".join(file_lines) + b"\n")

    live = LiveTraffic(p.settings, rate=400)
    live.start()
    time.sleep(3)  # live data flows first: both tenants' watermarks are now
    load_started = datetime.now(UTC)
    report = ingest_file(p.settings, path, wait=True, timeout=240, batch=500)
    load_ended = datetime.now(UTC)
    time.sleep(2)
    live.stop_flag.set()
    live.join()
    print("\n" + report.render())
    p.wait_until(lambda: p.scalar("SELECT count() FROM {db}.activities") >=
                 len(history.events) + len(live.events), 120, "every live event recorded")
    p.wait_settled()

    # every line accounted for: new rows, duplicates (repeats, stored, a rejected line's copy)
    assert report.complete, report.render()
    assert report.new_rows == len(history.events) - len(already)
    assert sum(report.rejected.values()) + report.duplicates == (
        len(invalid) + 1 + len(repeated) + 1 + len(already))
    assert p.scalar("SELECT count() FROM {db}.dlq_events FINAL") == sum(report.rejected.values())
    assert set(p.rows("SELECT DISTINCT reason FROM {db}.dlq_events")) <= {
        ("validation",), ("invalid_json",), ("unknown_type",)}

    # every valid event once, history and live
    expected_ids = {(e["tenant"], e["event_id"]) for e in history.events + live.events}
    stored = p.rows("SELECT tenant, event_id FROM {db}.activities")
    assert len(stored) == len(expected_ids) and set(stored) == expected_ids

    # touch counts per rep and day, as the events themselves say
    got = Counter({(t, r, d): n for t, r, d, n in p.rows(
        "SELECT tenant, entity_id, toDate(bucket), sum(touches) FROM {db}.touch_counts "
        "WHERE entity_type = 'rep' GROUP BY ALL HAVING sum(touches) > 0")})
    assert got == history.touches_by_rep_day(history.events + live.events)

    # stage visits re-derived over a year of changes, however they arrived
    visits = defaultdict(list)
    for tenant, opp, stage, entered, exited in p.rows(
            "SELECT tenant, opportunity_id, stage, entered_at, exited_at "
            "FROM {db}.stage_visits FINAL ORDER BY tenant, opportunity_id, entered_at"):
        visits[(tenant, opp)].append((stage, entered.replace(tzinfo=UTC),
                                      exited and exited.replace(tzinfo=UTC)))
    assert dict(visits) == history.visits()
    closed = p.rows("SELECT tenant, opportunity_id, current_stage, is_closed, is_won, "
                    "stage_changes FROM {db}.opportunity_state FINAL")
    truth = history.visits()
    assert {(t, o): (s, c, w, n) for t, o, s, c, w, n in closed} == {
        key: (v[-1][0], 1, int(v[-1][0] == "won"), len(v)) for key, v in truth.items()}

    # live freshness while the load ran (reported, never asserted)
    lags = p.rows(
        "SELECT quantiles(0.5, 0.99)(dateDiff('millisecond', occurred_at, ingested_at)) "
        "FROM {db}.activities WHERE source = 'dialer' AND occurred_at BETWEEN "
        "{a:DateTime64(3)} AND {b:DateTime64(3)}", a=load_started, b=load_ended)
    print(f"\nbackfill of {len(file_lines)} lines in {report.elapsed_s:.1f}s beside "
          f"{len(live.events)} live events: live freshness p50/p99 = {lags[0][0]} ms")
