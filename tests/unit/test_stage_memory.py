"""Which stage histories leave memory (streams/stage_memory.py), without a broker."""

from __future__ import annotations

import zlib

from touchline.streams.stage_memory import (
    StageIndex,
    change_partition,
    evict,
    index_partition,
)

MIN = 60_000


def change(ms: int, eid: str, to: str, account: str = "A1") -> list:
    return [ms, eid, None, to, account, "r1", "T"]


def test_only_histories_whose_latest_change_is_before_the_cutoff_are_evicted():
    history = {"t|O1": [change(1 * MIN, "a", "discovery")],
               "t|O2": [change(1 * MIN, "b", "discovery"), change(9 * MIN, "c", "demo")],
               "t|O3": [change(2 * MIN, "d", "discovery")]}
    index = StageIndex(MIN)
    index.note(0, "t|O1", 1 * MIN)
    index.note(0, "t|O2", 1 * MIN)  # noted when it had one change; changed since
    index.note(0, "t|O2", 9 * MIN)
    index.note(0, "t|O3", 2 * MIN)
    due = index.take_before(0, {"t": 5 * MIN})
    assert due == {"t|O1", "t|O2", "t|O3"}
    assert evict(history, due, {"t": 5 * MIN}) == 2
    assert set(history) == {"t|O2"}  # its latest change (9 min) is after the cutoff
    assert index.take_before(0, {"t": 5 * MIN}) == set()  # those buckets are gone
    assert index.take_before(0, {"t": 10 * MIN}) == {"t|O2"}


def test_each_tenant_is_evicted_by_its_own_watermark():
    index = StageIndex(MIN)
    index.note(0, "ahead|O1", 1 * MIN)
    index.note(0, "behind|O1", 1 * MIN)
    assert index.take_before(0, {"ahead": 50 * MIN, "behind": 1 * MIN}) == {"ahead|O1"}
    assert index.take_before(0, {"behind": 2 * MIN}) == {"behind|O1"}


def test_a_partial_bucket_is_kept_whole():
    index = StageIndex(MIN)
    index.note(1, "t|O1", 2 * MIN + 30_000)
    assert index.take_before(1, {"t": 2 * MIN + 45_000}) == set()  # bucket 2 is partial
    assert index.take_before(1, {"t": 3 * MIN}) == {"t|O1"}


def test_index_partition_takes_the_keys_of_that_partition_only():
    history = {f"t|O{n}": [change(n * MIN, f"e{n}", "demo", account=f"A{n}")]
               for n in range(40)}
    index = StageIndex(MIN)
    assert not index.indexed(2)
    n = index_partition(index, history, 2, 4)
    assert index.indexed(2)
    mine = {k for k, v in history.items()
            if zlib.crc32(f"t|{v[-1][4]}".encode()) % 4 == 2}
    assert 0 < n == len(mine) < 40
    assert index.take_before(2, {"t": 100 * MIN}) == mine
    assert all(change_partition(history[k][-1], "t", 4) == 2 for k in mine)
    index.forget(2)
    assert not index.indexed(2)
