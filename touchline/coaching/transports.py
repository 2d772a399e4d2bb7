"""Sending: SMTP (stdlib smtplib), Slack incoming webhooks and HMAC-signed webhooks (urllib).

Each function raises DeliveryError with one line on any failure, so the notifier can record
it and try again later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
import urllib.error
import urllib.request
from email.message import EmailMessage

from touchline.settings import NotifySettings

TIMEOUT_S = 15.0
SIGNATURE_HEADER = "X-Touchline-Signature"
TIMESTAMP_HEADER = "X-Touchline-Timestamp"


class DeliveryError(RuntimeError):
    """A message that did not go out (the receiver refused it or did not answer)."""


def send_email(settings: NotifySettings, msg: EmailMessage) -> None:
    """Send one email through the configured SMTP server."""
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_S) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"SMTP {settings.smtp_host}:{settings.smtp_port}: "
                            f"{exc.__class__.__name__}: {exc}".splitlines()[0]) from exc


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, timestamp + "." + body): what a receiver checks."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def post_json(url: str, doc: object, secret: str | None = None,
              extra_headers: dict[str, str] | None = None) -> None:
    """POST a JSON document; signed with `secret` when given."""
    body = json.dumps(doc, sort_keys=True).encode()
    headers = {"Content-Type": "application/json", **(extra_headers or {})}
    if secret is not None:
        stamp = str(int(time.time()))
        headers[TIMESTAMP_HEADER] = stamp
        headers[SIGNATURE_HEADER] = sign(secret, stamp, body)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as resp:
            resp.read()
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"POST {_host(url)}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"POST {_host(url)}: {exc}".splitlines()[0]) from exc


def _host(url: str) -> str:
    """The URL without its path (webhook paths are secrets)."""
    return "/".join(url.split("/")[:3])
