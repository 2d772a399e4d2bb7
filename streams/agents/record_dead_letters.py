"""record_dead_letters: consumes activities.dlq (DeadLetter JSON envelopes).

Emits: nothing.
Side effects: writes them to ClickHouse `dlq_events` in batches; the table is keyed by the
rejected input (dead_letter_key), so a replayed batch replaces itself instead of doubling. Its
position per partition goes to `pipeline_metrics` (DLQ lag on the ops dashboard).
"""

from __future__ import annotations

import hashlib
from collections import Counter

import orjson

from touchline.settings import get_settings
from touchline.sinks.rows import DEAD_LETTER_COLUMNS, arrow_table
from touchline.streams import progress, writer
from touchline.streams.app import app
from touchline.streams.topics import dead_letter_topic


def dead_letter_row(value: bytes, partition: int, offset: int) -> dict:
    """A dlq_events row from one envelope (a foreign, unparseable message is kept as payload)."""
    try:
        doc = orjson.loads(value)
        if not isinstance(doc, dict) or "reason" not in doc:
            raise ValueError("not a DeadLetter envelope")
    except ValueError:
        doc = {"reason": "validation", "error": "DLQ message is not a DeadLetter envelope",
               "payload": value.decode("utf-8", "replace")}
    failed_at = doc.get("failed_at") or writer.now_ms()
    if isinstance(failed_at, str):
        from datetime import datetime

        failed_at = int(datetime.fromisoformat(failed_at).timestamp() * 1000)
    row = {name: doc.get(name) for name in DEAD_LETTER_COLUMNS}
    row.update(
        failed_at=failed_at, dlq_partition=partition, dlq_offset=offset,
        error=str(doc.get("error", ""))[:4000], source_topic=doc.get("source_topic", ""),
        partition=int(doc.get("partition", -1)), offset=int(doc.get("offset", -1)),
        line_no=int(doc.get("line_no", 0)), origin=doc.get("origin", "") or "",
        event_id=doc.get("event_id", "") or "", tenant=doc.get("tenant", "") or "",
        payload=doc.get("payload", ""), payload_encoding=doc.get("payload_encoding", "utf-8"),
        payload_bytes=int(doc.get("payload_bytes", 0)),
    )
    row["dlq_key"] = dead_letter_key(row)
    return row


def dead_letter_key(row: dict) -> str:
    """Identity of one rejection: a replay of the same message shares it, nothing else does.

    Where the input was read (topic, partition, offset, origin, line) is part of it, so two
    copies of an event rejected at two places are two dead letters. Items rejected from one
    vendor request share that place, so without an event id the key also hashes the reason,
    error and payload (mapping is deterministic: a replay gives the same three).
    """
    where = (f"{row['source_topic']}|{row['partition']}|{row['offset']}|{row['origin']}|"
             f"{row['line_no']}")
    if row["event_id"]:
        return f"{row['reason']}|{row['tenant']}|{row['event_id']}|{where}"
    digest = hashlib.blake2b(digest_size=8)
    for part in (row["reason"], row["error"], row["payload"]):
        digest.update(str(part).encode() + b"\0")
    return f"{where}|{digest.hexdigest()}"


@app.agent(dead_letter_topic)
async def record_dead_letters(stream):  # noqa: D103
    settings = get_settings()
    async for events in stream.take_events(5000, within=settings.pipeline.batch_seconds):
        rows = [dead_letter_row(e.message.value, e.message.partition, e.message.offset)
                for e in events]
        table = arrow_table(rows, DEAD_LETTER_COLUMNS)
        await writer.write(lambda sink, t=table: sink.insert("dlq_events", t), "dlq insert")
        envelopes = Counter(e.message.partition for e in events)
        last = {e.message.partition: e.message.offset for e in events}  # in order per partition
        for partition, n in envelopes.items():
            progress.count_dead_letters(events[0].message.topic, partition, last[partition], n)
