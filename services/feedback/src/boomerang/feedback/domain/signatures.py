"""Webhook signatures, checked exactly as the providers make them. Pure: `now` is an argument.

SendGrid's Signed Event Webhook: ECDSA P-256 with SHA-256 over the timestamp header followed by
the raw body, the signature base64 DER. Twilio: HMAC-SHA1 with the auth token over the full URL
followed by every POST parameter name and value, sorted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from boomerang.feedback.domain.errors import InvalidSignature, MissingSignature, StaleTimestamp

SENDGRID_SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"


def load_sendgrid_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """Base64 DER SubjectPublicKeyInfo (SendGrid's UI) or PEM; anything but a P-256 key is refused."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode("ascii"))
        else:
            key = serialization.load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"not a public key (base64 DER or PEM): {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("the SendGrid webhook key must be an ECDSA P-256 public key")
    return key


def verify_sendgrid(
    key: ec.EllipticCurvePublicKey,
    *,
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    now: datetime,
    tolerance: timedelta,
) -> None:
    """Raise unless `body` was signed by SendGrid at `timestamp`, within `tolerance` of `now`."""
    if not signature:
        raise MissingSignature("the event webhook signature is missing", field=SENDGRID_SIGNATURE_HEADER)
    if not timestamp:
        raise MissingSignature("the event webhook timestamp is missing", field=SENDGRID_TIMESTAMP_HEADER)
    _check_fresh(timestamp, now, tolerance)
    try:
        der = base64.b64decode(signature, validate=True)
        key.verify(der, timestamp.encode("ascii") + body, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, UnicodeEncodeError, CryptoInvalidSignature):
        raise InvalidSignature(
            "the signature does not match the body and timestamp", field=SENDGRID_SIGNATURE_HEADER
        ) from None


def _check_fresh(timestamp: str, now: datetime, tolerance: timedelta) -> None:
    # A valid signature can be replayed forever; the signed timestamp bounds how long.
    if not timestamp.isascii() or not timestamp.isdigit():
        raise StaleTimestamp("the timestamp is not unix seconds", field=SENDGRID_TIMESTAMP_HEADER)
    skew = abs(now.timestamp() - int(timestamp))
    if skew > tolerance.total_seconds():
        raise StaleTimestamp(
            f"the timestamp is {int(skew)} s away from now (tolerance {int(tolerance.total_seconds())} s)",
            field=SENDGRID_TIMESTAMP_HEADER,
        )


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """X-Twilio-Signature as Twilio computes it (and its RequestValidator): repeated names
    contribute each distinct value, sorted."""
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    payload = url + "".join(name + value for name in sorted(values) for value in sorted(values[name]))
    digest = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_twilio(auth_token: str, *, signature: str | None, url: str, params: list[tuple[str, str]]) -> None:
    if not signature:
        raise MissingSignature("the Twilio signature is missing", field=TWILIO_SIGNATURE_HEADER)
    # Twilio signs with or without the default port depending on the product; accept both.
    for candidate in {url, _without_port(url), _with_default_port(url)}:
        expected = twilio_signature(auth_token, candidate, params)
        if hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
            return
    raise InvalidSignature(
        "the signature does not match the URL and parameters", field=TWILIO_SIGNATURE_HEADER
    )


def _without_port(url: str) -> str:
    parts = urlsplit(url)
    if parts.port is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit(":", 1)[0]))


def _with_default_port(url: str) -> str:
    parts = urlsplit(url)
    if parts.port is not None:
        return url
    port = 443 if parts.scheme == "https" else 80
    return urlunsplit(parts._replace(netloc=f"{parts.netloc}:{port}"))
