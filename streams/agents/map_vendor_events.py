"""map_<vendor>: one agent per vendor, each consuming raw.<vendor> and emitting canonical events.

Consumes: webhook Envelope JSON (schemas/vendors/envelope.py) on raw.twilio, raw.sendgrid,
raw.salesforce, raw.hubspot and raw.outreach, as `touchline serve` wrote it.
Emits: per raw message, one canonical JSONL message per account partition to activities.raw,
and a DeadLetter (reason `unmappable`, the vendor payload, the error) per unmappable payload to
activities.dlq. Side effects: counts skipped vendor events and unknown identities
(streams/vendor_forwarding.py `stats`); every raw.<vendor> partition reports its progress.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from touchline.settings import SOURCES
from touchline.streams.app import app
from touchline.streams.topics import vendor_topics
from touchline.streams.vendor_forwarding import forward_mapped


def _agent_for(source: str) -> Any:
    """Register `map_<source>` on the app: map every raw.<source> message and forward it."""

    async def map_vendor(stream: Any) -> None:
        await forward_mapped(source, stream)

    map_vendor.__name__ = map_vendor.__qualname__ = f"map_{source}"
    register: Callable[[Callable[[Any], Coroutine[Any, Any, None]]], Any] = app.agent(
        vendor_topics[source], name=f"{__name__}.map_{source}")
    return register(map_vendor)


#: vendor -> its agent (map_twilio, map_sendgrid, map_salesforce, map_hubspot, map_outreach)
vendor_agents = {source: _agent_for(source) for source in SOURCES}
