from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from boomerang.feedback.domain.errors import InvalidSignature, MissingSignature, StaleTimestamp
from boomerang.feedback.domain.signatures import (
    SENDGRID_SIGNATURE_HEADER,
    SENDGRID_TIMESTAMP_HEADER,
    TWILIO_SIGNATURE_HEADER,
    load_sendgrid_public_key,
    twilio_signature,
    verify_sendgrid,
    verify_twilio,
)

NOW = datetime(2025, 10, 9, 12, 0, tzinfo=UTC)
TS = str(int(NOW.timestamp()))
BODY = b'[{"event":"delivered","sg_event_id":"e1","timestamp":1760000000}]'
TOLERANCE = timedelta(minutes=15)


def verify(key, *, signature, timestamp=TS, body=BODY, now=NOW):
    verify_sendgrid(key, signature=signature, timestamp=timestamp, body=body, now=now, tolerance=TOLERANCE)


def test_a_body_signed_like_sendgrid_verifies(signer):
    verify(load_sendgrid_public_key(signer.public_key_b64), signature=signer.sign(TS, BODY))


def test_the_official_sendgrid_helper_agrees_with_our_signer(signer):
    eventwebhook = pytest.importorskip("sendgrid.helpers.eventwebhook")
    helper = eventwebhook.EventWebhook(signer.public_key_b64)
    assert helper.verify_signature(BODY.decode(), signer.sign(TS, BODY), TS)


def test_a_pem_key_works_too(signer):
    verify(load_sendgrid_public_key(signer.public_key_pem), signature=signer.sign(TS, BODY))


def test_a_tampered_body_is_refused(signer):
    key = load_sendgrid_public_key(signer.public_key_b64)
    with pytest.raises(InvalidSignature) as refused:
        verify(key, signature=signer.sign(TS, BODY), body=BODY.replace(b"delivered", b"bounce"))
    assert refused.value.status_code == 403
    assert refused.value.field == SENDGRID_SIGNATURE_HEADER


def test_a_signature_over_another_timestamp_is_refused(signer):
    key = load_sendgrid_public_key(signer.public_key_b64)
    with pytest.raises(InvalidSignature):
        verify(key, signature=signer.sign(str(int(TS) - 1), BODY))


def test_a_signature_by_another_key_is_refused(signer):
    other = ec.generate_private_key(ec.SECP256R1())
    key = load_sendgrid_public_key(signer.public_key_b64)
    forged = base64.b64encode(other.sign(TS.encode() + BODY, ec.ECDSA(hashes.SHA256()))).decode()
    with pytest.raises(InvalidSignature):
        verify(key, signature=forged)


@pytest.mark.parametrize("signature", ["not base64!", base64.b64encode(b"not DER").decode(), "AAAA"])
def test_garbage_signatures_are_refused_not_crashing(signer, signature):
    with pytest.raises(InvalidSignature):
        verify(load_sendgrid_public_key(signer.public_key_b64), signature=signature)


@pytest.mark.parametrize("skew", [timedelta(minutes=16), -timedelta(minutes=16), timedelta(days=400)])
def test_a_timestamp_outside_the_tolerance_is_stale_even_when_signed(signer, skew):
    timestamp = str(int((NOW - skew).timestamp()))
    with pytest.raises(StaleTimestamp) as refused:
        verify(
            load_sendgrid_public_key(signer.public_key_b64),
            signature=signer.sign(timestamp, BODY),
            timestamp=timestamp,
        )
    assert refused.value.status_code == 403
    assert refused.value.field == SENDGRID_TIMESTAMP_HEADER


def test_a_timestamp_within_the_tolerance_is_fine(signer):
    timestamp = str(int((NOW - timedelta(minutes=14)).timestamp()))
    verify(
        load_sendgrid_public_key(signer.public_key_b64),
        signature=signer.sign(timestamp, BODY),
        timestamp=timestamp,
    )


def test_a_timestamp_that_is_not_unix_seconds_is_refused(signer):
    with pytest.raises(StaleTimestamp):
        verify(
            load_sendgrid_public_key(signer.public_key_b64),
            signature=signer.sign("soon", BODY),
            timestamp="soon",
        )


@pytest.mark.parametrize(
    ("signature", "timestamp", "field"),
    [
        (None, TS, SENDGRID_SIGNATURE_HEADER),
        ("", TS, SENDGRID_SIGNATURE_HEADER),
        ("sig", None, SENDGRID_TIMESTAMP_HEADER),
    ],
)
def test_missing_headers_are_401_naming_the_header(signer, signature, timestamp, field):
    with pytest.raises(MissingSignature) as refused:
        verify(load_sendgrid_public_key(signer.public_key_b64), signature=signature, timestamp=timestamp)
    assert refused.value.status_code == 401
    assert refused.value.code == "missing_signature"
    assert refused.value.field == field


def test_keys_that_are_not_p256_are_refused():
    rsa_der = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    p384_der = (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for text in (base64.b64encode(rsa_der).decode(), base64.b64encode(p384_der).decode(), "not a key", ""):
        with pytest.raises(ValueError):
            load_sendgrid_public_key(text)


# --- Twilio ---------------------------------------------------------------------------------

URL = "https://feedback.example.com/v1/webhooks/twilio/status?boomerang_store_id=s1"
PARAMS = [
    ("MessageSid", "SM123"),
    ("MessageStatus", "delivered"),
    ("To", "+15005550006"),
    ("AccountSid", "AC1"),
]


def test_our_twilio_signature_matches_the_official_validator():
    request_validator = pytest.importorskip("twilio.request_validator")
    validator = request_validator.RequestValidator("token-123")
    ours = twilio_signature("token-123", URL, PARAMS)
    assert validator.validate(URL, dict(PARAMS), ours)
    assert ours == validator.compute_signature(URL, dict(PARAMS))


def test_a_twilio_callback_with_its_signature_verifies():
    verify_twilio("token-123", signature=twilio_signature("token-123", URL, PARAMS), url=URL, params=PARAMS)


def test_twilio_signed_with_the_default_port_still_verifies():
    with_port = URL.replace("example.com/", "example.com:443/")
    verify_twilio(
        "token-123", signature=twilio_signature("token-123", with_port, PARAMS), url=URL, params=PARAMS
    )


def test_a_twilio_signature_made_with_another_token_is_refused():
    with pytest.raises(InvalidSignature):
        verify_twilio("token-123", signature=twilio_signature("other", URL, PARAMS), url=URL, params=PARAMS)


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (URL.replace("s1", "s2"), PARAMS),
        (URL, [*PARAMS[:1], ("MessageStatus", "failed"), *PARAMS[2:]]),
        (URL, [*PARAMS, ("Extra", "1")]),
    ],
)
def test_a_tampered_twilio_callback_is_refused(url, params):
    signature = twilio_signature("token-123", URL, PARAMS)
    with pytest.raises(InvalidSignature):
        verify_twilio("token-123", signature=signature, url=url, params=params)


def test_a_missing_twilio_signature_is_401():
    with pytest.raises(MissingSignature) as refused:
        verify_twilio("token-123", signature=None, url=URL, params=PARAMS)
    assert refused.value.field == TWILIO_SIGNATURE_HEADER
