"""validate_json + activity_row per event, with and without the `_to_utc` validator on occurred_at.

Run from a checkout with schemas/activity.py as it is, then without the validator; best of 9
passes over 30,000 benchmark events, CPU time (2026-12-07 05:10 UTC, 2-core Intel Xeon @ 2.80GHz):
with 8.43, 7.41, 7.45 µs an event; without 6.76, 6.89, 7.04 (alternated, three rounds).
"""
import sys
import time

from touchline.bench.payloads import events
from touchline.schemas.activity import activity_adapter
from touchline.schemas.activity_row import activity_row

ev = events(30_000, seed=3)
best = 1e9
for _ in range(9):
    t = time.process_time()
    for e in ev:
        activity_row(activity_adapter.validate_json(e))
    best = min(best, time.process_time() - t)
print(sys.argv[1], f"{best / len(ev) * 1e6:.2f} us/event")
