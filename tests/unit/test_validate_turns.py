"""Validating a big batch gives the event loop a turn every `EVENTS_PER_TURN` events.

A batch's size sets the size of its inserts (decision 0004); the turns keep it from setting
how long offset commits and the other batch in flight wait. Every event still becomes its row.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord

from touchline.bench.payloads import CLEAN
from touchline.load.simulator import Simulator
from touchline.settings import Settings
from touchline.streams.partitioning import partition_for
from touchline.streams.validate_batch import EVENTS_PER_TURN, validate_messages

PARTITIONS = 4


def _records(per_message: int, events: int) -> list[ConsumerRecord]:
    sim = Simulator(seed=5, anomalies=CLEAN)
    start = datetime(2026, 11, 20, tzinfo=UTC)
    payloads = list(itertools.islice(sim.payloads(start, 50.0), events))
    values = [b"\n".join(payloads[i:i + per_message])
              for i in range(0, len(payloads), per_message)]
    return [ConsumerRecord("raw", 0, offset, 0, 0, None, value, None, len(value), 0, ())
            for offset, value in enumerate(values)]


async def _validate_counting_turns(records: list[ConsumerRecord]) -> tuple[int, dict, list]:
    settings = Settings()
    settings.kafka.partitions = PARTITIONS
    turns, done = 0, False

    async def count_turns() -> None:
        nonlocal turns
        while not done:
            turns += 1
            await asyncio.sleep(0)

    counter = asyncio.create_task(count_turns())
    await asyncio.sleep(0)  # the counter is waiting for its next turn
    turns = 0
    by_partition, dead = await validate_messages(records, settings)
    done = True
    await counter
    return turns, by_partition, dead


def _check(per_message: int, events: int) -> None:
    records = _records(per_message, events)
    turns, by_partition, dead = asyncio.run(_validate_counting_turns(records))
    assert dead == []
    (part,) = by_partition.values()
    rows = [row for rows in part.validated.rows_by_partition.values() for row in rows]
    assert part.validated.events_in == events and len(rows) == events
    assert part.messages == len(records) and part.last.offset == records[-1].offset
    for target, kept in part.validated.rows_by_partition.items():  # its account's partition
        assert {partition_for(r["tenant"], r["account_id"], PARTITIONS) for r in kept} == {target}
    assert {row["kafka_offset"] for row in rows} == {r.offset for r in records}
    # a turn each time another EVENTS_PER_TURN events are done (a message is never cut)
    assert turns >= events // (EVENTS_PER_TURN + per_message), turns
    assert turns <= events // EVENTS_PER_TURN, turns


def test_one_event_messages_give_the_loop_a_turn_every_slice() -> None:
    _check(per_message=1, events=5 * EVENTS_PER_TURN + 7)


def test_jsonl_messages_give_the_loop_a_turn_every_slice() -> None:
    _check(per_message=200, events=6 * EVENTS_PER_TURN)
