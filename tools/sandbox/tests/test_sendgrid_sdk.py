"""The official sendgrid SDK, configured only by host=, against the running sandbox."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest
from python_http_client.exceptions import BadRequestsError, InternalServerError, TooManyRequestsError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Category, CustomArg, Header, Mail, ReplyTo

if TYPE_CHECKING:
    from conftest import RunningSandbox


def welcome_mail(to: str = "ada@example.com", customer: str = "c-42") -> Mail:
    mail = Mail(
        from_email="hello@shop.example",
        to_emails=to,
        subject="Welcome back, Ada",
        plain_text_content="We missed you.",
        html_content="<p>We <b>missed</b> you.</p>",
    )
    mail.reply_to = ReplyTo("care@shop.example")
    mail.header = Header("List-Unsubscribe", "<https://shop.example/u/abc>")
    mail.header = Header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
    mail.category = Category("winback")
    mail.custom_arg = CustomArg("customer_id", customer)
    mail.custom_arg = CustomArg("flow", "winback-1")
    return mail


def test_sdk_mail_lands_in_outbox(sandbox: RunningSandbox, sendgrid_client: SendGridAPIClient) -> None:
    response = sendgrid_client.send(welcome_mail())

    assert response.status_code == 202
    assert response.body == b""
    x_message_id = response.headers["X-Message-Id"]
    [message] = sandbox.outbox()
    assert message["provider"] == "sendgrid"
    assert message["id"].startswith(x_message_id + ".")
    assert message["to"] == ["ada@example.com"]
    assert message["from"] == "hello@shop.example"
    assert message["reply_to"] == "care@shop.example"
    assert message["subject"] == "Welcome back, Ada"
    assert message["text"] == "We missed you."
    assert message["html"] == "<p>We <b>missed</b> you.</p>"
    assert message["headers"]["List-Unsubscribe"] == "<https://shop.example/u/abc>"
    assert message["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["categories"] == ["winback"]
    assert message["custom_args"] == {"customer_id": "c-42", "flow": "winback-1"}


def test_each_personalization_is_one_message(
    sandbox: RunningSandbox, sendgrid_client: SendGridAPIClient
) -> None:
    body: dict[str, Any] = {
        "personalizations": [
            {"to": [{"email": "a@example.com"}], "subject": "For A", "custom_args": {"customer_id": "a"}},
            {"to": [{"email": "b@example.com"}], "custom_args": {"customer_id": "b"}},
        ],
        "from": {"email": "hello@shop.example"},
        "subject": "Default subject",
        "content": [{"type": "text/plain", "value": "Hi"}],
        "custom_args": {"flow": "f1"},
    }
    assert sendgrid_client.client.mail.send.post(request_body=body).status_code == 202

    by_to = {m["to"][0]: m for m in sandbox.outbox()}
    assert by_to["a@example.com"]["subject"] == "For A"
    assert by_to["b@example.com"]["subject"] == "Default subject"
    assert by_to["b@example.com"]["custom_args"] == {"flow": "f1", "customer_id": "b"}
    assert by_to["a@example.com"]["id"] != by_to["b@example.com"]["id"]


def test_malformed_mail_gets_sendgrid_400(
    sandbox: RunningSandbox, sendgrid_client: SendGridAPIClient
) -> None:
    body = {
        "personalizations": [{"to": [{"email": "not-an-address"}]}],
        "from": {"email": "hello@shop.example"},
        "subject": "Hi",
        "content": [{"type": "text/plain", "value": "Hi"}],
    }
    with pytest.raises(BadRequestsError) as raised:
        sendgrid_client.client.mail.send.post(request_body=body)

    errors = raised.value.to_dict["errors"]
    assert errors == [
        {
            "message": "Does not contain a valid address.",
            "field": "personalizations.0.to.0.email",
            "help": "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message.personalizations.to",
        }
    ]
    assert sandbox.outbox() == []


def test_missing_api_key_is_401(sandbox: RunningSandbox) -> None:
    response = sandbox.post("/v3/mail/send", json={})

    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": "authorization required", "field": None, "help": None}]}


def test_429_fault_then_recovery(sandbox: RunningSandbox, sendgrid_client: SendGridAPIClient) -> None:
    armed = sandbox.post(
        "/_sandbox/faults", json={"provider": "sendgrid", "status": 429, "count": 2, "retry_after": 1}
    )
    assert armed.status_code == 201

    for _ in range(2):
        with pytest.raises(TooManyRequestsError) as raised:
            sendgrid_client.send(welcome_mail())
        assert raised.value.headers["Retry-After"] == "1"
        assert raised.value.headers["X-RateLimit-Remaining"] == "0"

    assert sendgrid_client.send(welcome_mail()).status_code == 202
    assert len(sandbox.outbox()) == 1
    assert sandbox.get("/_sandbox/faults").json() == {"faults": {}}


def test_cleared_faults_no_longer_fire(sandbox: RunningSandbox, sendgrid_client: SendGridAPIClient) -> None:
    sandbox.post("/_sandbox/faults", json={"provider": "sendgrid", "status": 503, "count": 5})
    assert httpx.delete(sandbox.url + "/_sandbox/faults").status_code == 204

    assert sendgrid_client.send(welcome_mail()).status_code == 202


def test_lost_outcome_is_found_by_activity_query(
    sandbox: RunningSandbox, sendgrid_client: SendGridAPIClient
) -> None:
    sandbox.post("/_sandbox/faults", json={"provider": "sendgrid", "status": 500, "after_accept": True})
    with pytest.raises(InternalServerError):
        sendgrid_client.send(welcome_mail(customer="c-lost"))
    sendgrid_client.send(welcome_mail(to="other@example.com", customer="c-other"))

    response = sendgrid_client.client.messages.get(
        query_params={"query": "unique_args['customer_id']=\"c-lost\"", "limit": 10}
    )

    assert response.status_code == 200
    [row] = response.to_dict["messages"]
    assert row["to_email"] == "ada@example.com"
    assert row["from_email"] == "hello@shop.example"
    assert row["subject"] == "Welcome back, Ada"
    assert row["status"] == "delivered"
    assert (row["opens_count"], row["clicks_count"]) == (0, 0)
    assert row["msg_id"] == sandbox.outbox(to="ada@example.com")[0]["id"]


def test_activity_query_combines_conditions_and_limits(
    sandbox: RunningSandbox, sendgrid_client: SendGridAPIClient
) -> None:
    for customer in ("c1", "c2", "c3"):
        sendgrid_client.send(welcome_mail(customer=customer))

    def query(q: str, limit: int = 10) -> list[dict[str, Any]]:
        response = sendgrid_client.client.messages.get(query_params={"query": q, "limit": limit})
        rows: list[dict[str, Any]] = response.to_dict["messages"]
        return rows

    assert len(query("unique_args['flow']=\"winback-1\"")) == 3
    assert len(query("unique_args['flow']=\"winback-1\"", limit=2)) == 2
    assert len(query('to_email="ada@example.com" AND unique_args[\'customer_id\']!="c1"')) == 2
    assert query("unique_args['customer_id']=\"nobody\"") == []
    with pytest.raises(BadRequestsError):
        query("unique_args['customer_id'] LIKE \"c%\"")
