"""Each vendor's documented request-signature check; pure functions, no I/O.

- Twilio: base64(HMAC-SHA1(auth_token, url + every POST param name+value sorted by name)).
- SendGrid Signed Event Webhook: ECDSA P-256 / SHA-256 over (timestamp header + raw body),
  public key and signature both base64 DER.
- HubSpot v3: base64(HMAC-SHA256(client_secret, method + uri + body + timestamp)), timestamp
  in epoch milliseconds, requests older than 5 minutes rejected.
- Outreach: hex(HMAC-SHA256(webhook secret, raw body)) in `Outreach-Webhook-Signature`.
Comparisons are constant-time (hmac.compare_digest).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit, urlunsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

# HubSpot v3: these percent-escapes in the URI are decoded before signing (their docs' list)
_HUBSPOT_DECODED = (
    "%3A", "%2F", "%3F", "%40", "%21", "%24", "%27", "%28", "%29", "%2A", "%2C", "%3B"
)


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The X-Twilio-Signature Twilio computes for a form POST to `url`."""
    data = url + "".join(k + v for k, v in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_twilio(
    auth_token: str, url: str, params: list[tuple[str, str]], signature: str
) -> bool:
    """True if `signature` matches the URL (with or without an explicit port) and params."""
    candidates = {url}
    parts = urlsplit(url)
    if parts.port is not None:  # Twilio's helpers accept both forms of the same URL
        candidates.add(urlunsplit(parts._replace(netloc=parts.hostname or "")))
    return any(
        hmac.compare_digest(twilio_signature(auth_token, u, params), signature)
        for u in candidates
    )


def verify_sendgrid(public_key_b64: str, signature_b64: str, timestamp: str, body: bytes) -> bool:
    """True if the ECDSA signature over timestamp + body verifies with the configured key."""
    try:
        key = load_der_public_key(base64.b64decode(public_key_b64, validate=True))
        signature = base64.b64decode(signature_b64, validate=True)
    except (ValueError, binascii.Error):
        return False
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    try:
        key.verify(signature, timestamp.encode("utf-8") + body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def hubspot_uri(uri: str) -> str:
    """The URI as HubSpot signs it: the listed percent-escapes decoded, the rest kept."""
    for escape in _HUBSPOT_DECODED:
        uri = uri.replace(escape, unquote(escape)).replace(escape.lower(), unquote(escape))
    return uri


def hubspot_v3_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """The X-HubSpot-Signature-v3 value for one request."""
    message = method.upper().encode() + hubspot_uri(uri).encode("utf-8") + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def verify_hubspot_v3(
    secret: str, method: str, uri: str, body: bytes, timestamp: str, signature: str
) -> bool:
    """True if the v3 signature matches (the caller checks the timestamp's age)."""
    expected = hubspot_v3_signature(secret, method, uri, body, timestamp)
    return hmac.compare_digest(expected, signature)


def outreach_signature(secret: str, body: bytes) -> str:
    """The Outreach-Webhook-Signature value: hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_outreach(secret: str, body: bytes, signature: str) -> bool:
    """True if the hex signature matches the body."""
    return hmac.compare_digest(outreach_signature(secret, body), signature.strip().lower())


def verify_bearer(token: str, authorization: str) -> bool:
    """True if the Authorization header is `Bearer <token>` (the Salesforce CDC relay)."""
    scheme, _, value = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token)
