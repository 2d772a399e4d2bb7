"""map_sendgrid: consumes raw.sendgrid; Event Webhook batches -> `email` events.

Consumes: webhook Envelope JSON (touchline/webhooks/envelope.py), keyed by request id.

Emits: one canonical JSONL batch per raw message to activities.raw, and a DeadLetter (reason
`unmappable`, the vendor payload, the error) per unmappable payload to activities.dlq.
Side effects: none; counts skipped vendor events and unknown identities (agent_support.stats).
"""

from __future__ import annotations

from touchline.streams.app import app
from touchline.webhooks.agent_support import forward_mapped, vendor_topic

sendgrid_raw_topic = vendor_topic("sendgrid")


@app.agent(sendgrid_raw_topic)
async def map_sendgrid(stream):  # noqa: D103
    await forward_mapped("sendgrid", stream)
