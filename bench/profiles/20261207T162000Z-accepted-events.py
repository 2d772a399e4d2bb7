"""What the worker and the store spend per event on the two ways into `activities`.

`rows`: the worker's rows (`activity_row`) written as a JSON block (`activities_json`) into
`activities`, as before migration 0053; `lines`: the worker's lines (`accepted_row`,
`accepted_events_json`) into `accepted_events`, whose view writes `activities` (decision
0009). The same benchmark events (`touchline.bench.payloads.events`, validated in both), a
fresh migrated store each (in process, chdb), 3 warm-up inserts then 8 timed inserts of 5,000
events; CPU per event of building the block (validation included) and of the insert (the
engine's parse, the view, `activities`' own views and projection). The two alternate, round
after round.

    python bench/profiles/20261207T162000Z-accepted-events.py --rounds 3

2026-12-07 16:15-16:18 UTC, 2-core Intel Xeon @ 2.80GHz, code at 6e396fc, two runs of three
rounds; us of CPU per event, rows / lines:
    encode (validation included): 22.07 / 21.20, 25.34 / 18.62, 22.68 / 16.50,
                                  13.90 / 15.73, 14.33 / 12.51, 17.30 / 14.14
    insert:                       31.27 / 28.00, 37.50 / 27.19, 31.84 / 22.44,
                                  23.79 / 24.70, 23.74 / 22.48, 29.46 / 22.13
The lines were cheaper in 5 of 6 rounds on both counts; the machine's speed moved by half between
the two runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

ROWS, WARM, TIMED = 5000, 3, 8


def measure(way: str) -> dict[str, float]:
    """In this process: encode and insert CPU per event for `way` ("rows" or "lines")."""
    from touchline.bench.payloads import events
    from touchline.schemas.activity import activity_adapter
    from touchline.schemas.activity_row import accepted_row, activity_row
    from touchline.sinks.clickhouse import ClickHouseSink
    from touchline.sinks.rows import accepted_events_json, activities_json

    payloads = events(ROWS * (WARM + TIMED), 7)
    now = int(time.time() * 1000)

    def block(k: int) -> bytes:
        rows = []
        for offset in range(k * ROWS, (k + 1) * ROWS):
            data = payloads[offset]
            event = activity_adapter.validate_json(data)
            row = activity_row(event) if way == "rows" else accepted_row(event, data)
            row.update(ingested_at=now, kafka_partition=0, kafka_offset=offset)
            rows.append(row)
        return activities_json(rows) if way == "rows" else accepted_events_json(rows)

    table = "activities" if way == "rows" else "accepted_events"
    with tempfile.TemporaryDirectory(prefix="accepted-events-") as tmp:
        sink = ClickHouseSink(f"chdb://{tmp}/ch", database="touchline").start()
        sink.ensure_schema()
        for k in range(WARM):
            sink.insert_json(table, block(k), f"warm-{k}")
        encode = insert = 0.0
        for k in range(WARM, WARM + TIMED):
            t0 = time.process_time()
            body = block(k)
            t1 = time.process_time()
            sink.insert_json(table, body, f"batch-{k}")
            encode, insert = encode + t1 - t0, insert + time.process_time() - t1
        count = sink.query("SELECT count() FROM touchline.activities").scalar()
        sink.close()
    assert count == ROWS * (WARM + TIMED), count
    per = 1e6 / (ROWS * TIMED)
    return {"way": way, "encode_us": round(encode * per, 2), "insert_us": round(insert * per, 2)}


def main() -> None:
    """Alternate the two ways in child processes; print each measurement as a JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    for _ in range(args.rounds):
        for way in ("rows", "lines"):
            done = subprocess.run([sys.executable, __file__, "--child", way],
                                  capture_output=True, text=True, check=True)
            print(done.stdout.strip(), flush=True)


if __name__ == "__main__":
    main()
