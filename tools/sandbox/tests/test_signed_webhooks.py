"""Webhooks the sandbox posts, checked by the providers' own verifiers over real HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from sendgrid import SendGridAPIClient
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.mail import CustomArg, Mail
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from boomerang.sandbox.cli import main as sandbox_cli

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import Received, Receiver, RunningSandbox

SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"


def send_mail(sandbox: RunningSandbox, customer: str = "c-7") -> str:
    mail = Mail("hello@shop.example", "ada@example.com", "Hi", plain_text_content="Hi")
    mail.custom_arg = CustomArg("customer_id", customer)
    mail.custom_arg = CustomArg("store_id", "s-1")
    response = SendGridAPIClient("SG.key", host=sandbox.url).send(mail)
    x_message_id: str = response.headers["X-Message-Id"]
    return x_message_id


def verifies(public_key: str, request: Received, body: bytes | None = None) -> bool:
    payload = (request.body if body is None else body).decode("utf-8")
    verifier = EventWebhook()
    key = verifier.convert_public_key_to_ecdsa(public_key)
    valid: bool = verifier.verify_signature(
        payload, request.headers[SIGNATURE], request.headers[TIMESTAMP], key
    )
    return valid


def test_delivery_events_are_signed_as_sendgrid_does(start_sandbox: Any, receiver: Receiver) -> None:
    sandbox: RunningSandbox = start_sandbox(feedback_url=receiver.url)
    public_key = sandbox.get("/_sandbox/keys/sendgrid-webhook").json()["public_key"]

    x_message_id = send_mail(sandbox)

    [request] = receiver.wait_for(1)
    assert request.path == "/v1/webhooks/sendgrid"
    assert verifies(public_key, request)
    assert not verifies(public_key, request, request.body.replace(b"c-7", b"c-8"))
    processed, delivered = request.json()
    assert [processed["event"], delivered["event"]] == ["processed", "delivered"]
    for event in (processed, delivered):
        assert event["email"] == "ada@example.com"
        assert event["sg_message_id"].startswith(x_message_id)
        assert event["smtp-id"].startswith(f"<{x_message_id}")
        assert (event["customer_id"], event["store_id"]) == ("c-7", "s-1")
        assert isinstance(event["timestamp"], int)
    assert processed["sg_event_id"] != delivered["sg_event_id"]


def test_keygen_keys_configure_sandbox_and_verifier(
    start_sandbox: Any, receiver: Receiver, tmp_path: Path
) -> None:
    private_key, public_key = tmp_path / "webhook.pem", tmp_path / "webhook.pub"
    sandbox_cli(["keygen", "--private-key", str(private_key), "--public-key", str(public_key)])
    sandbox: RunningSandbox = start_sandbox(
        feedback_url=receiver.url, sendgrid_webhook_private_key_path=private_key
    )

    send_mail(sandbox)

    [request] = receiver.wait_for(1)
    assert private_key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert verifies(public_key.read_text().strip(), request)
    assert (
        sandbox.get("/_sandbox/keys/sendgrid-webhook").json()["public_key"] == public_key.read_text().strip()
    )


def test_failed_webhook_is_retried(start_sandbox: Any, receiver: Receiver) -> None:
    receiver.statuses = [503]
    sandbox: RunningSandbox = start_sandbox(feedback_url=receiver.url)

    send_mail(sandbox)

    first, second = receiver.wait_for(2)
    assert first.body == second.body


def test_hand_written_events_are_signed_and_completed(start_sandbox: Any, receiver: Receiver) -> None:
    sandbox: RunningSandbox = start_sandbox(feedback_url=receiver.url)
    public_key = sandbox.get("/_sandbox/keys/sendgrid-webhook").json()["public_key"]
    bounce = {"event": "bounce", "email": "ada@example.com", "type": "bounce", "customer_id": "c-7"}

    answer = sandbox.post("/_sandbox/webhooks/sendgrid", json=[bounce])

    assert answer.json()["status"] == 200
    [request] = receiver.wait_for(1)
    assert verifies(public_key, request)
    [event] = request.json()
    assert event["event"] == "bounce" and event["customer_id"] == "c-7"
    assert event["sg_event_id"] and isinstance(event["timestamp"], int)


def test_hand_written_events_need_a_feedback_url(sandbox: RunningSandbox) -> None:
    assert sandbox.post("/_sandbox/webhooks/sendgrid", json=[{"event": "bounce"}]).status_code == 409


def test_twilio_status_callbacks_pass_request_validator(
    sandbox: RunningSandbox, twilio_client: Client, receiver: Receiver
) -> None:
    callback = receiver.url + "/v1/webhooks/twilio/status?store=s-1"

    message = twilio_client.messages.create(
        to="+447700900123", from_="+15005550006", body="Hi", status_callback=callback
    )

    sent, delivered = receiver.wait_for(2)
    validator = RequestValidator(sandbox.settings.twilio_auth_token)
    for request, status in ((sent, "sent"), (delivered, "delivered")):
        params = dict(parse_qsl(request.body.decode()))
        assert request.path == "/v1/webhooks/twilio/status?store=s-1"
        assert params["MessageSid"] == message.sid
        assert params["MessageStatus"] == status
        assert (params["To"], params["From"]) == ("+447700900123", "+15005550006")
        assert (params["AccountSid"], params["ApiVersion"]) == (twilio_client.account_sid, "2010-04-01")
        assert validator.validate(callback, params, request.headers["X-Twilio-Signature"])
        assert not RequestValidator("wrong-token").validate(
            callback, params, request.headers["X-Twilio-Signature"]
        )


def test_hand_written_twilio_webhook_is_signed(start_sandbox: Any, receiver: Receiver) -> None:
    sandbox: RunningSandbox = start_sandbox(feedback_url=receiver.url)
    inbound = {"From": "+447700900123", "To": "+15005550006", "Body": "STOP", "MessageSid": "SM" + "1" * 32}

    answer = sandbox.post(
        "/_sandbox/webhooks/twilio", json={"url": "/v1/webhooks/twilio/inbound", "params": inbound}
    )

    assert answer.json()["status"] == 200
    [request] = receiver.wait_for(1)
    validator = RequestValidator(sandbox.settings.twilio_auth_token)
    url = receiver.url + "/v1/webhooks/twilio/inbound"
    assert validator.validate(
        url, dict(parse_qsl(request.body.decode())), request.headers["X-Twilio-Signature"]
    )
