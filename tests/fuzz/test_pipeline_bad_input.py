"""A few thousand generated good and bad lines through the REAL pipeline (broker, Faust
workers, embedded ClickHouse via the store).

Invariant: lines in = rows in `activities` + rows in `dlq_events` (FINAL) + duplicates, each
part equal to its independently known expectation (lost = 0, duplicated = 0); every string with
SQL, quotes, backslashes or unicode comes back byte-exact from ClickHouse, and every rejected
line's original bytes are in the DLQ byte-exact (the first 64 KiB of a too-large one), so
nothing was spliced into SQL: inserts are Arrow blocks, queries take server-side parameters.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from tests.fuzz.pipeline_inputs import generate

pytestmark = pytest.mark.integration

N = 3000
TENANT = "fuzz-tenant"
STRING_FIELDS = ("event_id", "tenant", "source", "rep_id", "team_id", "account_id",
                 "prospect_id", "cadence_id", "to_stage")


def test_generated_bad_and_good_lines_through_the_real_pipeline(
        pipeline_factory: Callable) -> None:
    inputs = generate(N, seed=20261123, tenant=TENANT)
    p = pipeline_factory(partitions=2)
    p.produce(inputs.lines, batch=250)

    def counts() -> tuple[int, int, int]:
        rows, dlq, dups = p.rows(
            "SELECT (SELECT count() FROM {db}.activities), (SELECT count() FROM {db}.dlq_events "
            "FINAL), (SELECT sum(duplicates) FROM {db}.pipeline_metrics WHERE topic = {t:String})",
            t=p.settings.kafka.activities_topic)[0]
        return int(rows), int(dlq), int(dups or 0)

    p.wait_until(lambda: sum(counts()) >= len(inputs.lines), 240, "every line accounted for")
    p.wait_settled()
    rows, dlq, dups = counts()
    print(f"lines in {len(inputs.lines)}: rows {rows} (expected {len(inputs.good)}), DLQ {dlq} "
          f"(expected {len(inputs.bad)}), duplicates {dups} (expected {inputs.duplicates})")
    assert (rows, dlq, dups) == (len(inputs.good), len(inputs.bad), inputs.duplicates)
    assert rows + dlq + dups == len(inputs.lines)  # lost = 0, double-counted = 0
    assert p.scalar("SELECT uniqExact(event_id) FROM {db}.activities") == rows

    # every accepted string field round-trips byte-exact
    cols = ", ".join(STRING_FIELDS)
    stored = {r[0]: r for r in p.rows(f"SELECT {cols} FROM {{db}}.activities")}
    assert set(stored) == set(inputs.good)
    for event_id, event in inputs.good.items():
        for name, value in zip(STRING_FIELDS, stored[event_id], strict=True):
            assert value == event.get(name, ""), (event_id, name, value, event.get(name))

    # every rejected line is in the DLQ with a reason, its bytes byte-exact
    payloads = p.rows("SELECT payload, payload_encoding, reason, error FROM {db}.dlq_events FINAL")
    got = sorted(base64.b64decode(pl) if enc == "base64" else pl.encode()
                 for pl, enc, _, _ in payloads)
    # (an event over max_event_bytes keeps its first 64 KiB: streams/validation.py)
    limit = p.settings.pipeline.max_event_bytes
    assert got == sorted(line[:65536] if len(line) > limit else line for line in inputs.bad)
    assert all(reason and error for _, _, reason, error in payloads)
