"""Each vendor's documented request-signature check; pure functions, no I/O.

- Twilio: base64(HMAC-SHA1(auth_token, url + every POST param name+value sorted by name)).
- SendGrid Signed Event Webhook: ECDSA P-256 / SHA-256 over (timestamp header + raw body),
  public key and signature both base64 DER.
- HubSpot v3: base64(HMAC-SHA256(client_secret, method + uri + body + timestamp)), timestamp
  in epoch milliseconds, requests older than 5 minutes rejected.
- Outreach: hex(HMAC-SHA256(webhook secret, raw body)) in `Outreach-Webhook-Signature`.
Comparisons are constant-time (hmac.compare_digest), on bytes: a header with non-ASCII text
is a mismatch, not an error.
"""

from __future__ import annotations

import base64
import binascii
import functools
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


def _same(expected: str, given: str) -> bool:
    """Constant-time equality of an expected value and what a request brought (any text)."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogateescape"))


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The X-Twilio-Signature Twilio computes for a form POST to `url`."""
    data = url + "".join(k + v for k, v in sorted(params))
    digest = hmac.digest(auth_token.encode(), data.encode("utf-8"), "sha1")
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
        _same(twilio_signature(auth_token, u, params), signature)
        for u in candidates
    )


@functools.lru_cache(maxsize=4)
def _sendgrid_key(public_key_b64: str) -> ec.EllipticCurvePublicKey | None:
    """The configured key, loaded once; None if it is not a base64 DER EC public key."""
    try:
        key = load_der_public_key(base64.b64decode(public_key_b64, validate=True))
    except (ValueError, binascii.Error):
        return None
    return key if isinstance(key, ec.EllipticCurvePublicKey) else None


def verify_sendgrid(public_key_b64: str, signature_b64: str, timestamp: str, body: bytes) -> bool:
    """True if the ECDSA signature over timestamp + body verifies with the configured key."""
    key = _sendgrid_key(public_key_b64)
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (ValueError, binascii.Error):
        return False
    if key is None:
        return False
    try:
        key.verify(signature, timestamp.encode("utf-8") + body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def hubspot_uri(uri: str) -> str:
    """The URI as HubSpot signs it: the listed percent-escapes decoded, the rest kept."""
    if "%" not in uri:  # nothing to decode (the usual case)
        return uri
    for escape in _HUBSPOT_DECODED:
        uri = uri.replace(escape, unquote(escape)).replace(escape.lower(), unquote(escape))
    return uri


def hubspot_v3_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """The X-HubSpot-Signature-v3 value for one request."""
    message = method.upper().encode() + hubspot_uri(uri).encode("utf-8") + body + timestamp.encode()
    return base64.b64encode(hmac.digest(secret.encode(), message, "sha256")).decode()


def verify_hubspot_v3(
    secret: str, method: str, uri: str, body: bytes, timestamp: str, signature: str
) -> bool:
    """True if the v3 signature matches (the caller checks the timestamp's age)."""
    expected = hubspot_v3_signature(secret, method, uri, body, timestamp)
    return _same(expected, signature)


def outreach_signature(secret: str, body: bytes) -> str:
    """The Outreach-Webhook-Signature value: hex HMAC-SHA256 of the raw body."""
    return hmac.digest(secret.encode(), body, "sha256").hex()


def verify_outreach(secret: str, body: bytes, signature: str) -> bool:
    """True if the hex signature matches the body."""
    return _same(outreach_signature(secret, body), signature.strip().lower())


def verify_bearer(token: str, authorization: str) -> bool:
    """True if the Authorization header is `Bearer <token>` (the Salesforce CDC relay)."""
    scheme, _, value = authorization.partition(" ")
    return scheme.lower() == "bearer" and _same(token, value.strip())
