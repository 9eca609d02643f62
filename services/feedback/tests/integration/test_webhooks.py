"""The service over real HTTP, with its store on disk and the real broker."""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from pathlib import Path

import httpx
import pytest

from boomerang.devstack.kafka_broker import free_port
from boomerang.feedback.adapters.repository import SqlProviderEventStore
from boomerang.feedback.domain.signatures import twilio_signature
from boomerang.feedback.entrypoints.app import create_app
from boomerang.feedback.settings import FeedbackSettings
from boomerang.shared.db import make_engine
from boomerang.shared.settings import CommonSettings

pytestmark = pytest.mark.integration
SIG = "X-Twilio-Email-Event-Webhook-Signature"
TS = "X-Twilio-Email-Event-Webhook-Timestamp"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'feedback.db'}"


@pytest.fixture
def settings_for(kafka_bootstrap, topic_prefix, db_url, signer):
    def make(bootstrap: str = kafka_bootstrap, **overrides) -> FeedbackSettings:
        values = {
            "database_url": db_url,
            "sendgrid_webhook_public_key": signer.public_key_b64,
            "twilio_auth_token": "twilio-token",
            "relay_interval_s": 0.1,
            "relay_max_backoff_s": 0.5,
            "common": CommonSettings(kafka_bootstrap=bootstrap, topic_prefix=topic_prefix),
            **overrides,
        }
        return FeedbackSettings(**values)

    return make


@pytest.fixture
def store(db_url):
    engine = make_engine(db_url)
    yield SqlProviderEventStore(engine)
    engine.dispose()


def batch(make_event):
    unattributed = make_event("evt-3", "click", url="https://shop.example/p/9")
    del unattributed["boomerang_store_id"], unattributed["boomerang_customer_id"]
    return [make_event("evt-1", "processed"), make_event("evt-2", "delivered"), unattributed]


async def test_a_signed_batch_is_stored_once_and_published_once(
    settings_for, serve, signer, make_event, encode, store, feedback_topic
):
    body = encode(batch(make_event))
    with serve(create_app(settings_for())) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            first = await http.post(
                "/v1/webhooks/sendgrid", content=body, headers=signer.headers(body, int(time.time()))
            )
            assert first.status_code == 200, first.text
            assert first.json() == {"received": 3, "stored": 3, "duplicates": 0}

            records = await feedback_topic.read(3)
            by_event = {envelope.event().provider_event_id: (key, envelope) for key, envelope in records}
            assert set(by_event) == {"evt-1", "evt-2", "evt-3"}
            assert by_event["evt-1"][0] == "store-1:cust-42"
            assert by_event["evt-2"][1].event().kind == "delivered"
            key3, envelope3 = by_event["evt-3"]
            assert key3.startswith("_unattributed:unattributed:") and "@" not in key3
            assert envelope3.event().url == "https://shop.example/p/9"
            assert all(store.find("sendgrid", i).published_at is not None for i in by_event)

            # SendGrid retries the very same batch (new timestamp, new signature).
            again = await http.post(
                "/v1/webhooks/sendgrid", content=body, headers=signer.headers(body, int(time.time()))
            )
            assert again.status_code == 200
            assert again.json() == {"received": 3, "stored": 0, "duplicates": 3}
            await _relay_ticks()
            assert await feedback_topic.count() == 3
            assert store.count() == 3

            metrics = (await http.get("/metrics")).text
            assert 'boomerang_feedback_webhook_duplicates_total{provider="sendgrid"}' in metrics
            assert 'boomerang_feedback_webhook_events_total{kind="click",provider="sendgrid"}' in metrics
            assert "ada@example.com" not in metrics
            ready = await http.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["checks"] == {"database": True, "kafka": True}


async def test_forged_and_unsigned_batches_are_refused_and_leave_no_trace(
    settings_for, serve, signer, other_signer, make_event, encode, store, feedback_topic
):
    body = encode(batch(make_event))
    now = int(time.time())
    forged = other_signer.headers(body, now)
    tampered = {**signer.headers(body, now)}
    stale = signer.headers(body, now - 3600)
    with serve(create_app(settings_for())) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            cases = [
                (forged, body, 403, "invalid_signature", SIG),
                (tampered, body.replace(b"delivered", b"bounce"), 403, "invalid_signature", SIG),
                (stale, body, 403, "stale_timestamp", TS),
                ({k: v for k, v in forged.items() if k != SIG}, body, 401, "missing_signature", SIG),
                ({k: v for k, v in forged.items() if k != TS}, body, 401, "missing_signature", TS),
            ]
            for headers, content, status, code, field in cases:
                response = await http.post("/v1/webhooks/sendgrid", content=content, headers=headers)
                assert response.status_code == status, (code, response.text)
                assert response.json()["error"]["code"] == code
                assert response.json()["error"]["field"] == field

            metrics = (await http.get("/metrics")).text
            assert (
                'boomerang_feedback_signature_failures_total{provider="sendgrid",reason="stale_timestamp"}'
                in metrics
            )
    assert store.count() == 0
    assert await feedback_topic.count() == 0


async def test_bodies_that_are_not_batches_are_400_and_huge_ones_413(settings_for, serve, signer, store):
    with serve(create_app(settings_for(max_body_bytes=2048))) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            for body, code, field in [
                (b"{nope", "malformed_json", "body"),
                (b'{"event":"open"}', "not_a_list", "body"),
                (b'[{"event":"open","timestamp":1760000000}]', "missing_field", "0.sg_event_id"),
            ]:
                response = await http.post(
                    "/v1/webhooks/sendgrid", content=body, headers=signer.headers(body, int(time.time()))
                )
                assert response.status_code == 400
                assert (response.json()["error"]["code"], response.json()["error"]["field"]) == (code, field)

            huge = b"[" + b" " * 4096 + b"]"
            response = await http.post(
                "/v1/webhooks/sendgrid", content=huge, headers=signer.headers(huge, int(time.time()))
            )
            assert response.status_code == 413

            # Without Content-Length (chunked) the limit holds too.
            async def chunks():
                for _ in range(8):
                    yield b" " * 512

            response = await http.post(
                "/v1/webhooks/sendgrid", content=chunks(), headers=signer.headers(b"", int(time.time()))
            )
            assert response.status_code == 413
    assert store.count() == 0


async def test_without_a_public_key_nothing_is_accepted(
    settings_for, serve, signer, make_event, encode, store
):
    body = encode([make_event("evt-1")])
    with serve(create_app(settings_for(sendgrid_webhook_public_key=None, twilio_auth_token=None))) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            for path, headers in [
                ("/v1/webhooks/sendgrid", signer.headers(body, int(time.time()))),
                ("/v1/webhooks/twilio/status", {"X-Twilio-Signature": "x"}),
            ]:
                response = await http.post(path, content=body, headers=headers)
                assert response.status_code == 503
                assert response.json()["error"]["code"] == "webhook_not_configured"
    assert store.count() == 0


async def test_events_accepted_while_kafka_is_down_are_published_when_it_is_back(
    settings_for, serve, signer, make_event, encode, store, feedback_topic
):
    body = encode(batch(make_event))
    dead_kafka = f"127.0.0.1:{free_port()}"
    with serve(create_app(settings_for(bootstrap=dead_kafka, publish_timeout_s=1.0))) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            started = time.monotonic()
            response = await http.post(
                "/v1/webhooks/sendgrid", content=body, headers=signer.headers(body, int(time.time()))
            )
            assert response.status_code == 200
            assert time.monotonic() - started < 2.0  # fast, Kafka or not
            assert response.json()["stored"] == 3
            assert (await http.get("/readyz")).json()["checks"] == {"database": True, "kafka": False}
            await _relay_ticks()
            assert "boomerang_feedback_unpublished_events 3.0" in (await http.get("/metrics")).text
    assert all(store.find("sendgrid", f"evt-{i}").published_at is None for i in (1, 2, 3))
    assert await feedback_topic.count() == 0

    # The service comes back with Kafka reachable: its relay publishes the backlog, nobody re-posts.
    with serve(create_app(settings_for())):
        records = await feedback_topic.read(3)
    assert sorted(e.event().provider_event_id for _, e in records) == ["evt-1", "evt-2", "evt-3"]
    assert all(store.find("sendgrid", f"evt-{i}").published_at is not None for i in (1, 2, 3))


async def test_a_signed_twilio_status_callback_is_published_once(settings_for, serve, store, feedback_topic):
    port = free_port()
    public = "https://feedback.example.com"  # what Twilio called, in front of a proxy
    query = "boomerang_store_id=store-1&boomerang_customer_id=cust-42&boomerang_message_id=m-1"
    params = {"MessageSid": "SM123", "MessageStatus": "delivered", "To": "+15005550006", "AccountSid": "AC1"}
    signature = twilio_signature(
        "twilio-token", f"{public}/v1/webhooks/twilio/status?{query}", params.items()
    )
    form = urllib.parse.urlencode(params)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    with serve(create_app(settings_for(public_base_url=public)), port) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            for _ in range(2):  # Twilio retried
                response = await http.post(
                    f"/v1/webhooks/twilio/status?{query}", content=form, headers=headers
                )
                assert response.status_code == 200, response.text
            forged = await http.post(
                f"/v1/webhooks/twilio/status?{query}",
                content=form.replace("delivered", "failed"),
                headers=headers,
            )
            assert forged.status_code == 403
            [(key, envelope)] = await feedback_topic.read(1)
            await _relay_ticks()
            assert await feedback_topic.count() == 1
    event = envelope.event()
    assert key == "store-1:cust-42"
    assert (event.provider, event.kind, event.message_id) == ("twilio", "delivered", "m-1")
    assert store.count() == 1


async def _relay_ticks() -> None:
    await asyncio.sleep(0.5)  # several relay intervals: nothing more may appear
