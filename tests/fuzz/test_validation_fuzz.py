"""Fuzz the canonical validation path (`validate_message`): raw bytes -> rows + dead letters.

Invariant for every generated message: no exception escapes; each event (line, array item, or
the whole message when it cannot be split) ends as exactly one valid row or one dead letter with
a reason and an error; rows + dead letters = events in. 6,000 generated messages in total
(about 10,000 events: batches hold up to 12 events each).
"""

from __future__ import annotations

import json
import time

import orjson
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import fuzz
from tests.fuzz.invariants import RULES, check, is_valid_event, run
from tests.fuzz.strategies import event_bytes, good_event

NOW_MS = int(time.time() * 1000)


@fuzz(2500)
@given(event_bytes())
def test_single_event_becomes_one_row_or_one_reasoned_dead_letter(raw: bytes) -> None:
    out = run(raw, NOW_MS)
    rows, dead = check(raw, out)
    if raw.lstrip()[:1] != b"[" and not is_valid_event(raw):
        assert (rows, dead) == (0, 1)  # the schema rejects it, so must the pipeline


@fuzz(500)
@given(st.lists(st.one_of(event_bytes(), st.integers(0, 10**6).map(
    lambda i: orjson.dumps(good_event(i)))), min_size=1, max_size=12),
    st.sampled_from([b"\n", b"\r\n", b"\n\n  \n"]))
def test_jsonl_batch_mixing_good_and_bad_lines(lines: list[bytes], sep: bytes) -> None:
    lines = [b"{" + line if line.lstrip()[:1] == b"[" else line for line in lines]  # JSONL
    raw = sep.join(lines)
    rows, dead = check(raw, run(raw, NOW_MS))
    assert rows + dead == len(lines)
    assert rows == sum(1 for line in lines if _accepted(line))


@fuzz(500)
@given(st.lists(st.one_of(
    st.integers(0, 10**6).map(good_event), st.just(None), st.just([1, [2]]), st.just("call"),
    st.integers(), st.integers(0, 10**6).map(lambda i: {**good_event(i), "tenant": 5}),
    st.integers(0, 10**6).map(lambda i: {**good_event(i), "occurred_at": "9999-01-01T00:00Z"}),
), max_size=30), st.booleans())
def test_json_array_batches(items: list, truncate: bool) -> None:
    raw = json.dumps(items).encode()
    if truncate:
        raw = raw[:-1]  # an array that does not parse: one dead letter holding every byte
    out = run(raw, NOW_MS)
    rows, dead = check(raw, out)
    if truncate:
        assert (rows, dead) == (0, 1) and out.dead_letters[0].original_bytes() == raw
    else:
        assert rows + dead == len(items)


@fuzz(2500)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(raw: bytes) -> None:
    check(raw, run(raw, NOW_MS))


def test_oversized_message_and_event_are_dead_letters_not_crashes() -> None:
    big_event = orjson.dumps(good_event(1, rep_id="r" * (RULES.max_event_bytes + 1)))
    rows, dead = check(big_event, out := run(big_event, NOW_MS))
    assert (rows, dead) == (0, 1) and out.dead_letters[0].reason == "too_large"
    huge = b"\n".join([orjson.dumps(good_event(i)) for i in range(20_000)] * 2)
    assert len(huge) > RULES.max_message_bytes
    rows, dead = check(huge, out := run(huge, NOW_MS))
    assert (rows, dead) == (0, 1) and out.dead_letters[0].reason == "too_large"


def _accepted(line: bytes) -> bool:
    out = run(line, NOW_MS)
    return sum(len(r) for r in out.rows_by_partition.values()) == 1
