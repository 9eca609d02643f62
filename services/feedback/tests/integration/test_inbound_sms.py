"""Inbound SMS over real HTTP: signed by Twilio, attributed through earlier status callbacks."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import httpx
import pytest

from boomerang.feedback.adapters.repository import SqlProviderEventStore
from boomerang.feedback.domain.signatures import twilio_signature
from boomerang.feedback.entrypoints.app import create_app
from boomerang.feedback.settings import FeedbackSettings
from boomerang.shared.db import make_engine
from boomerang.shared.settings import CommonSettings

pytestmark = pytest.mark.integration
TOKEN = "twilio-token"
PUBLIC = "https://feedback.example.com"
CUSTOMER, OURS = "+15005550006", "+15005550001"
IDS = "boomerang_store_id=store-1&boomerang_customer_id=cust-42&boomerang_message_id=m-1"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'feedback.db'}"


@pytest.fixture
def settings(kafka_bootstrap, topic_prefix, db_url) -> FeedbackSettings:
    return FeedbackSettings(
        database_url=db_url,
        twilio_auth_token=TOKEN,
        public_base_url=PUBLIC,
        sms_help_texts={"store-1": "Acme & Co: reply STOP to opt out."},
        relay_interval_s=0.1,
        common=CommonSettings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix),
    )


def signed(path: str, params: dict[str, str]) -> dict:
    signature = twilio_signature(TOKEN, PUBLIC + path, params.items())
    return {
        "content": urllib.parse.urlencode(params),
        "headers": {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
    }


def inbound(sid: str, body: str, sender: str = CUSTOMER) -> dict[str, str]:
    return {"MessageSid": sid, "SmsSid": sid, "AccountSid": "AC1", "From": sender, "To": OURS, "Body": body}


async def test_keywords_from_a_known_number_reach_its_customer_and_help_is_answered(
    settings, serve, db_url, feedback_topic
):
    status_path = f"/v1/webhooks/twilio/status?{IDS}"
    status = {"MessageSid": "SMout1", "MessageStatus": "delivered", "To": CUSTOMER, "From": OURS}
    with serve(create_app(settings)) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            assert (await http.post(status_path, **signed(status_path, status))).status_code == 200

            answers = {}
            for sid, body in [("SMin1", "Stop"), ("SMin2", "START"), ("SMin3", "help"), ("SMin4", "Is it vegan?")]:
                response = await http.post("/v1/twilio/inbound", **signed("/v1/twilio/inbound", inbound(sid, body)))
                assert response.status_code == 200, response.text
                assert response.headers["content-type"].startswith("text/xml")
                answers[sid] = response.text
            # Twilio retried one; and the canonical path under /v1/webhooks works the same.
            path = "/v1/webhooks/twilio/inbound"
            assert (await http.post(path, **signed(path, inbound("SMin1", "Stop")))).status_code == 200
            stranger = await http.post(path, **signed(path, inbound("SMin5", "STOP", sender="+15005550999")))
            assert stranger.status_code == 200

            forged = signed(path, inbound("SMin6", "START"))
            forged["content"] = forged["content"].replace("START", "STOP")
            assert (await http.post(path, **forged)).status_code == 403
        records = await feedback_topic.read(6)

    assert "<Message>Acme &amp; Co: reply STOP to opt out.</Message>" in answers["SMin3"]
    assert "<Message>" not in answers["SMin1"] and "<Response>" in answers["SMin1"]
    inbound_events = {e.event().provider_event_id: (key, e.event()) for key, e in records}
    assert {sid: (key, event.kind) for sid, (key, event) in inbound_events.items() if sid.startswith("SMin")} == {
        "SMin1": ("store-1:cust-42", "stop"),
        "SMin2": ("store-1:cust-42", "start"),
        "SMin3": ("store-1:cust-42", "help"),
        "SMin4": ("store-1:cust-42", "reply"),
        "SMin5": (inbound_events["SMin5"][0], "stop"),
    }
    key5, event5 = inbound_events["SMin5"]
    assert key5.startswith("_unattributed:unattributed:") and "555" not in key5
    assert all(event.provider == "twilio" for _, event in inbound_events.values())
    assert inbound_events["SMin1"][1].message_id == "m-1"
    assert "Is it vegan" not in str([e.model_dump_json() for _, e in records])
    assert await feedback_topic.count() == 6  # the status, five inbound; the retry not again
    engine = make_engine(db_url)
    try:
        assert SqlProviderEventStore(engine).count() == 6
    finally:
        engine.dispose()
