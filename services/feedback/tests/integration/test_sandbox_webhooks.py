"""The provider sandbox (tools/sandbox) posts its signed SendGrid webhooks to the running service."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from boomerang.devstack.kafka_broker import free_port
from boomerang.feedback.entrypoints.app import create_app
from boomerang.feedback.settings import FeedbackSettings
from boomerang.shared.settings import CommonSettings

sandbox_app = pytest.importorskip("boomerang.sandbox.app")
sandbox_settings = pytest.importorskip("boomerang.sandbox.settings")
sandbox_signing = pytest.importorskip("boomerang.sandbox.signing")

pytestmark = pytest.mark.integration


async def test_mail_sent_through_the_sandbox_comes_back_as_feedback_events(
    tmp_path: Path, kafka_bootstrap, topic_prefix, serve, feedback_topic
):
    private_key, public_key = tmp_path / "webhook.pem", tmp_path / "webhook.pub"
    sandbox_signing.write_keypair(private_key, public_key)
    feedback = create_app(
        FeedbackSettings(
            database_url=f"sqlite:///{tmp_path / 'feedback.db'}",
            sendgrid_webhook_public_key_path=public_key,
            relay_interval_s=0.2,
            common=CommonSettings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix),
        )
    )
    with serve(feedback, free_port()) as feedback_url:
        sandbox = sandbox_app.create_app(
            sandbox_settings.Settings(
                feedback_url=feedback_url, sendgrid_webhook_private_key_path=private_key
            )
        )
        with serve(sandbox) as sandbox_url:
            async with httpx.AsyncClient(
                base_url=sandbox_url, headers={"Authorization": "Bearer SG.test"}
            ) as http:
                sent = await http.post("/v3/mail/send", json=_mail())
                assert sent.status_code == 202, sent.text
                records = await feedback_topic.read(2)

                # A hand-written bounce for the same customer, signed and posted by the sandbox.
                posted = await http.post(
                    "/_sandbox/webhooks/sendgrid",
                    json=[{**_custom_args(), "event": "bounce", "email": "ada@example.com",
                           "sg_message_id": "x.1", "reason": "550 mailbox unknown", "type": "bounce"}],
                )  # fmt: skip
                assert posted.json()["status"] == 200
                records = await feedback_topic.read(3)

    kinds = sorted(envelope.event().kind for _, envelope in records)
    assert kinds == ["bounce", "delivered", "processed"]
    assert {key for key, _ in records} == {"store-1:cust-42"}
    for _, envelope in records:
        event = envelope.event()
        assert event.provider == "sendgrid"
        assert event.message_id == "bm-1"
        assert "ada@example.com" not in envelope.to_bytes().decode()


def _custom_args() -> dict[str, str]:
    return {
        "boomerang_message_id": "bm-1",
        "boomerang_store_id": "store-1",
        "boomerang_customer_id": "cust-42",
        "boomerang_flow": "winback",
    }


def _mail() -> dict:
    return {
        "personalizations": [{"to": [{"email": "ada@example.com"}]}],
        "from": {"email": "hello@shop.example"},
        "subject": "We miss you",
        "content": [{"type": "text/plain", "value": "Come back"}],
        "custom_args": _custom_args(),
    }
