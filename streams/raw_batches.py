"""Split one raw Kafka message into event payloads: one JSON object, JSONL, or a JSON array."""

from __future__ import annotations

from collections.abc import Iterator

import orjson


class UnsplittableMessage(ValueError):
    """The message is a JSON array that does not parse, so its events cannot be told apart."""


def split_events(raw: bytes) -> Iterator[tuple[int, bytes]]:
    """Yield (line number from 0, event bytes); blank lines are skipped."""
    head = raw.lstrip()[:1]
    if head == b"[":
        try:
            items = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise UnsplittableMessage(f"JSON array does not parse: {exc}") from exc
        for i, item in enumerate(items):
            yield i, orjson.dumps(item)
        return
    for i, line in enumerate(raw.split(b"\n")):
        if line.strip():
            yield i, line
