"""map_twilio: consumes raw.twilio; status callbacks; only a call's final status becomes a `call`.

Consumes: webhook Envelope JSON (touchline/webhooks/envelope.py), keyed by CallSid.

Emits: one canonical JSONL batch per raw message to activities.raw, and a DeadLetter (reason
`unmappable`, the vendor payload, the error) per unmappable payload to activities.dlq.
Side effects: none; counts skipped vendor events and unknown identities (agent_support.stats).
"""

from __future__ import annotations

from touchline.streams.app import app
from touchline.webhooks.agent_support import forward_mapped, vendor_topic

twilio_raw_topic = vendor_topic("twilio")


@app.agent(twilio_raw_topic)
async def map_twilio(stream):  # noqa: D103
    await forward_mapped("twilio", stream)
