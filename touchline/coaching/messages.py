"""What a manager receives: a batch of coaching signals as email, Slack and webhook messages.

Email carries plain text and HTML; Slack gets an incoming-webhook payload; the generic webhook
a JSON document. The signal's own message already names the rep, the activity to change and
the evidence; a batch groups them by rep, new ones first, then what resolved.
"""

from __future__ import annotations

import datetime as dt
import html
from collections import defaultdict
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

#: Slack allows 50 blocks per message; a batch longer than this ends with "and N more"
SLACK_MAX_LINES = 40


@dataclass(frozen=True)
class SignalEvent:
    """A signal that fired or resolved, as a manager hears about it."""

    tenant: str
    signal_id: str
    kind: str
    change: str  # "fired" or "resolved"
    team_id: str
    rep_id: str
    message: str
    fired_at: dt.datetime
    at: dt.datetime

    @property
    def event(self) -> str:
        """The event part of the delivery key (stable across passes and restarts)."""
        verb = "fire" if self.change == "fired" else "resolve"
        return f"{verb}:{self.tenant}:{self.signal_id}:{self.fired_at:%Y%m%dT%H%M%S}"


@dataclass(frozen=True)
class Batch:
    """The events one recipient gets in one message."""

    recipient: str
    title: str
    events: tuple[SignalEvent, ...]

    def counts(self) -> tuple[int, int]:
        """(new, resolved)."""
        new = sum(e.change == "fired" for e in self.events)
        return new, len(self.events) - new

    def subject(self) -> str:
        """One line: how many, for whom."""
        new, resolved = self.counts()
        parts = [f"{new} new"] if new else []
        parts += [f"{resolved} resolved"] if resolved else []
        return f"touchline coaching for {self.title}: {', '.join(parts)}"

    def by_rep(self) -> list[tuple[str, list[SignalEvent], list[SignalEvent]]]:
        """(rep, fired, resolved) per rep, reps with most new signals first."""
        reps: dict[str, tuple[list[SignalEvent], list[SignalEvent]]] = defaultdict(
            lambda: ([], []))
        for e in sorted(self.events, key=lambda e: (e.kind, e.signal_id)):
            reps[e.rep_id or "(no rep)"][0 if e.change == "fired" else 1].append(e)
        return [(rep, f, r) for rep, (f, r) in
                sorted(reps.items(), key=lambda kv: (-len(kv[1][0]), kv[0]))]


def plain_text(batch: Batch) -> str:
    """The batch as plain text."""
    lines = [batch.subject(), ""]
    for rep, fired, resolved in batch.by_rep():
        lines.append(f"{rep}:")
        lines += [f"  - {e.message}" for e in fired]
        lines += [f"  - resolved: {e.message}" for e in resolved]
        lines.append("")
    lines.append("Each message names the activity to change; coach the activity, not the "
                 "number. `touchline signals list --rep REP` shows the rest.")
    return "\n".join(lines)


def html_text(batch: Batch) -> str:
    """The batch as a small HTML page (inline styles, nothing fetched)."""
    rows = []
    for rep, fired, resolved in batch.by_rep():
        items = "".join(f"<li>{html.escape(e.message)}</li>" for e in fired)
        items += "".join(f'<li style="color:#6b7280">resolved: {html.escape(e.message)}</li>'
                         for e in resolved)
        rows.append(f'<h3 style="margin:16px 0 4px">{html.escape(rep)}</h3><ul '
                    f'style="margin:0;padding-left:20px">{items}</ul>')
    return ("<!doctype html><html><body style=\"font-family:sans-serif;font-size:14px;"
            f"color:#111827\"><h2>{html.escape(batch.subject())}</h2>{''.join(rows)}"
            "<p style=\"color:#6b7280\">Each message names the activity to change: coach the "
            "activity, not the number.</p></body></html>")


def email_message(batch: Batch, sender: str, to: list[str], now: dt.datetime,
                  batch_id: str) -> EmailMessage:
    """A multipart/alternative email (plain text, then HTML)."""
    msg = EmailMessage()
    msg["Subject"] = batch.subject()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(idstring=batch_id[:16], domain="touchline.local")
    msg["X-Touchline-Batch"] = batch_id
    msg.set_content(plain_text(batch))
    msg.add_alternative(html_text(batch), subtype="html")
    return msg


def slack_payload(batch: Batch) -> dict[str, object]:
    """A Slack incoming-webhook message: a text fallback and mrkdwn sections per rep."""
    blocks: list[dict[str, object]] = [
        {"type": "header", "text": {"type": "plain_text", "text": batch.subject()[:150]}}]
    lines = 0
    for rep, fired, resolved in batch.by_rep():
        if lines >= SLACK_MAX_LINES:
            break
        items = [f"• {e.message}" for e in fired] + [f"• ~resolved~ {e.message}"
                                                     for e in resolved]
        shown = items[:SLACK_MAX_LINES - lines]
        lines += len(shown)
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "text": f"*{rep}*\n" + "\n".join(shown)}})
    if lines < len(batch.events):
        blocks.append({"type": "context", "elements": [{
            "type": "mrkdwn", "text": f"and {len(batch.events) - lines} more: "
                                      "`touchline signals list`"}]})
    return {"text": batch.subject(), "blocks": blocks}


def webhook_document(batch: Batch, batch_id: str) -> dict[str, object]:
    """The generic webhook's JSON: the batch and each event."""
    return {"batch_id": batch_id, "recipient": batch.recipient, "title": batch.title,
            "events": [{"tenant": e.tenant, "signal_id": e.signal_id, "kind": e.kind,
                        "change": e.change, "team_id": e.team_id, "rep_id": e.rep_id,
                        "message": e.message, "fired_at": e.fired_at.isoformat(),
                        "at": e.at.isoformat()} for e in batch.events]}
