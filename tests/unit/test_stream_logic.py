"""Pure stream logic: splitting batches, partitioning, dedup window, dwell, record_batch."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from touchline.settings import PipelineSettings
from touchline.streams.dedup import HOUR_MS, DedupWindow
from touchline.streams.dwell import SUMMARY, before_kept, merge, truncate, visits
from touchline.streams.partitioning import partition_for
from touchline.streams.raw_batches import UnsplittableMessage, split_events
from touchline.streams.recording import record_batch


def test_split_single_jsonl_and_array():
    assert list(split_events(b'{"a":1}')) == [(0, b'{"a":1}')]
    assert list(split_events(b'{"a":1}\n\n{"b":2}\n')) == [(0, b'{"a":1}'), (2, b'{"b":2}')]
    assert [orjson.loads(x) for _, x in split_events(b'[{"a":1},{"b":2}]')] == [
        {"a": 1}, {"b": 2}]
    with pytest.raises(UnsplittableMessage):
        list(split_events(b"[1, 2"))


def test_partition_is_stable_and_spreads():
    assert partition_for("t", "acct-1", 4) == partition_for("t", "acct-1", 4)
    assert len({partition_for("t", f"acct-{i}", 4) for i in range(100)}) == 4


def test_dedup_window_evicts_whole_old_hours():
    w = DedupWindow()
    w.add("old", 0)
    w.add("new", 5 * HOUR_MS)
    assert "old" in w and len(w) == 2
    assert w.evict_before(3 * HOUR_MS) == 1
    assert "old" not in w and "new" in w


def test_dwell_out_of_order_and_idempotent():
    h, _, new = merge([], [[30, "s2", "discovery", "demo", "a", "r", "t"]])
    h, first, _ = merge(h, [[0, "s1", "", "discovery", "a", "r", "t"]])
    assert first == 0
    h, first, _ = merge(h, [[50, "s3", "demo", "proposal", "a", "r", "t"]])
    assert first == 2  # visits from the one before it on are the ones it changes
    h2, first, again = merge(h, [[0, "s1", "", "discovery", "a", "r", "t"]])
    assert new and not again and h2 == h and first == 0
    assert [(v.stage, v.entered_ms, v.exited_ms, v.next_stage) for v in visits(h)] == [
        ("discovery", 0, 30, "demo"), ("demo", 30, 50, "proposal"), ("proposal", 50, None, "")]
    assert visits(h)[0].dwell_s == 0.03


def _row(eid: str, at: int, **kw) -> dict:
    row = {"event_id": eid, "occurred_at": at, "tenant": "t", "type": "call",
           "account_id": "a", "rep_id": "r", "team_id": "tm", "opportunity_id": "",
           "from_stage": "", "to_stage": "", "is_closed": 0, "is_won": 0, "vendor_stage": "",
           "editor_id": ""}
    row.update(kw)
    return row


def test_record_batch_dedups_moves_the_watermark_and_checks_old_events_against_the_store():
    from collections import defaultdict

    rules = PipelineSettings(allowed_lateness_s=10)
    windows, history = defaultdict(DedupWindow), {}
    rows = [_row("a", 100_000), _row("a", 100_000), _row("b", 200_000),
            _row("old", 150_000), _row("stored", 120_000), _row("ok", 195_000),
            _row("s", 190_000, type="stage_change", opportunity_id="o", to_stage="Closed Won",
                 vendor_stage="Closed Won", is_closed=1, is_won=1, editor_id="u9")]
    res = record_batch(rows, windows, rules, topic="act", partition=1, offset=7,
                       stored={"t|stored"}, stage_history=history, now_ms=1)
    # an event older than the watermark minus the lateness is accepted unless already stored
    assert [r["event_id"] for r in res.rows] == ["a", "b", "old", "ok", "s"]
    assert res.duplicates == 2
    assert res.watermark == 200_000 and windows["t"].watermark == 200_000
    assert res.token == "act:1:7"
    assert history["t|o"][0][1] == "s"
    state = res.opportunity_rows[0]
    assert (state["current_stage"], state["is_closed"], state["is_won"], state["editor_id"]) == (
        "Closed Won", 1, 1, "u9")  # the outcome the row carries, not one read from the name
    # a replay of the same message: everything is a duplicate, nothing is written twice
    again = record_batch([dict(r) for r in rows], windows, rules, topic="act", partition=1,
                         offset=7, stored={"t|stored"}, stage_history=history, now_ms=2)
    assert again.rows == [] and again.duplicates == 7
    # the same event_id in another tenant is a different event, with its own watermark
    other = record_batch([_row("a", 5_000, tenant="t2")], windows, rules,
                         topic="act", partition=1, offset=8, now_ms=3)
    assert [r["tenant"] for r in other.rows] == ["t2"] and other.duplicates == 0
    assert windows["t2"].watermark == 5_000 and windows["t"].watermark == 200_000


def test_an_old_event_stays_in_the_window_until_the_watermark_moves_a_bucket_on():
    w = DedupWindow(bucket_ms=1_000)
    w.accept("live", 100_000, lateness_ms=10_000)
    w.accept("backfill", 3_000, lateness_ms=10_000)  # far older than watermark - lateness
    assert w.watermark == 100_000
    w.evict_before(w.watermark - 10_000)
    assert "backfill" in w  # kept as if at the cutoff: a batch in flight may hold a copy
    w.accept("later", 102_000, lateness_ms=10_000)
    w.evict_before(w.watermark - 10_000)
    assert "backfill" not in w and "live" in w


def test_line_origins_name_the_file_line_of_routed_and_consecutive_messages():
    from touchline.streams.validation import line_origins

    consecutive = line_origins("run1:100")
    assert [consecutive(i) for i in range(3)] == ["run1:100"] * 3  # 100 + line_no
    routed = line_origins("run2:@5,9,2")
    # origin + line_no is the file line; line_no stays the line within the message
    assert [int(routed(i).rsplit(":", 1)[1]) + i for i in range(3)] == [5, 9, 2]
    assert routed(0).startswith("run2:")


def test_account_partition_matches_validation_partitioning():
    from touchline.load.produce import account_partition
    from touchline.streams.partitioning import partition_for

    line = b'{"tenant": " t1 ", "account_id": "acct-9", "type": "call"}'
    assert account_partition(line, 8) == partition_for("t1", "acct-9", 8)
    assert account_partition(b"not json", 8) == 0
    assert account_partition(b'{"tenant": "t1"}', 8) == 0


def test_short_lateness_gets_minute_buckets_so_the_window_stays_small():
    from touchline.streams.dedup import bucket_ms_for

    assert bucket_ms_for(7 * 24 * HOUR_MS) == HOUR_MS
    w = DedupWindow(bucket_ms_for(120_000))  # 2 minutes of lateness -> 1-minute buckets
    for minute in range(10):
        w.add(f"e{minute}", minute * 60_000 + 5)
    assert w.evict_before(9 * 60_000 - 120_000) == 7  # minutes 0..6 are wholly before
    assert len(w) == 3 and "e7" in w and "e6" not in w


def test_eviction_lags_by_the_batches_in_flight():
    from touchline.streams.recording import TenantWindows

    windows = TenantWindows(lateness_ms=10_000, bucket_ms=1_000, in_flight=2)
    w = DedupWindow(bucket_ms=1_000)
    windows._windows[0] = {"t": w}  # as a reload from ClickHouse leaves it
    w.add("early", 5_000)
    for watermark in (20_000, 40_000):  # two batches finish while a third is in flight
        w.add(f"at-{watermark}", watermark)
        windows.evict(0)
        assert "early" in w  # the third batch may have judged it recent before they ended
    w.add("at-60000", 60_000)
    windows.evict(0)  # the cutoff of three evictions ago (20 s - 10 s) has passed it
    assert "early" not in w and "at-20000" in w


def test_a_history_keeps_its_latest_changes_behind_a_summary():
    changes = [[i * 10, f"e{i:03d}", "", f"s{i}", "a", "r", "t"] for i in range(12)]
    kept = truncate(None, changes, keep=5)
    assert kept[0] == [0, SUMMARY, 7] and [c[1] for c in kept[1:]] == [
        "e007", "e008", "e009", "e010", "e011"]
    merged, first, new = merge(kept, [[115, "e012", "", "s12", "a", "r", "t"]])
    assert new and first == 5 and len(merged) == 6
    again = truncate(kept[0], merged, keep=5)
    assert again[0] == [0, SUMMARY, 8] and again[1][1] == "e008"
    # a change older than the oldest kept one needs the whole history first
    assert before_kept(again, [75, "e-old"]) and not before_kept(again, [95, "e-new"])
    assert not before_kept(changes, [0, "x"])  # nothing was dropped from a short one


def test_the_current_stage_was_entered_at_the_first_change_that_named_it():
    from touchline.streams.dwell import current_stage_entered

    # Prospecting, Qualification and Needs Analysis all map to discovery: one stay there
    changes = [[0, "a", "", "discovery"], [10, "b", "", "demo"], [20, "c", "", "discovery"],
               [30, "d", "", "discovery"], [40, "e", "", "discovery"]]
    assert current_stage_entered(changes) == 20
    assert current_stage_entered(changes[:2]) == 10
    assert current_stage_entered(changes[:1]) == 0


async def test_background_writes_wait_behind_live_ones(monkeypatch):
    import threading

    from touchline.streams import writer

    monkeypatch.setattr(writer, "_sink", "no sink: these calls do not use it")
    gate, order = threading.Event(), []

    def first(_sink):
        gate.wait(5)  # holds the sink thread while the others queue up
        order.append("first")

    def named(name):
        return lambda _sink: order.append(name)

    hold = asyncio.ensure_future(writer.write_once(first))
    await asyncio.sleep(0.05)
    with writer.background():
        backfill = asyncio.ensure_future(writer.write_once(named("backfill")))
    await asyncio.sleep(0.05)
    live = asyncio.ensure_future(writer.write_once(named("live")))
    await asyncio.sleep(0.05)
    gate.set()
    await asyncio.gather(hold, backfill, live)
    assert order == ["first", "live", "backfill"]


def test_record_batch_of_several_messages_keeps_each_rows_offset_and_names_the_span():
    from collections import defaultdict

    from touchline.streams.recording import BatchResult

    rules = PipelineSettings(allowed_lateness_s=10)
    windows = defaultdict(DedupWindow)
    rows = [dict(_row("a", 100_000), kafka_offset=3), dict(_row("b", 100_001), kafka_offset=4),
            dict(_row("a", 100_002), kafka_offset=5)]  # a duplicate in a later message
    res = record_batch(rows, windows, rules, topic="raw", partition=2, offset=5,
                       first_offset=3, now_ms=1)
    assert [(r["event_id"], r["kafka_offset"], r["kafka_partition"]) for r in res.rows] == [
        ("a", 3, 2), ("b", 4, 2)]
    assert res.token == "raw:2:3-5" and res.duplicates == 1
    # rows without an offset of their own get the message's
    one = record_batch([_row("c", 100_003)], windows, rules, topic="raw", partition=1,
                       offset=9, now_ms=1)
    assert one.rows[0]["kafka_offset"] == 9 and one.token == "raw:1:9"
    # spans and single offsets combine into one range per partition
    three = record_batch([_row("d", 100_004)], windows, rules, topic="raw", partition=2,
                         offset=8, first_offset=6, now_ms=1)
    assert BatchResult.combine([res, one, three]).token == "raw:1:9-9,raw:2:3-8"
