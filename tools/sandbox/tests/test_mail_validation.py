"""SendGrid's Mail Send checks, as pure functions."""

from datetime import UTC, datetime
from typing import Any

from boomerang.sandbox.sendgrid_mail import messages_from_mail, validate_mail


def mail(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "personalizations": [{"to": [{"email": "ada@example.com"}]}],
        "from": {"email": "hello@shop.example"},
        "subject": "Hi",
        "content": [{"type": "text/plain", "value": "Hi"}, {"type": "text/html", "value": "<p>Hi</p>"}],
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def fields(body: Any) -> list[str | None]:
    return [error.field for error in validate_mail(body)]


def test_a_complete_mail_passes() -> None:
    assert validate_mail(mail()) == []


def test_missing_personalizations() -> None:
    assert fields(mail(personalizations=[])) == ["personalizations"]


def test_personalization_without_to() -> None:
    assert fields(mail(personalizations=[{"cc": [{"email": "a@example.com"}]}])) == ["personalizations.0.to"]


def test_bad_cc_address() -> None:
    personalization = {"to": [{"email": "ada@example.com"}], "cc": [{"email": "nope"}]}
    assert fields(mail(personalizations=[personalization])) == ["personalizations.0.cc.0.email"]


def test_cc_must_be_a_list() -> None:
    personalization = {"to": [{"email": "ada@example.com"}], "cc": "bob@example.com"}
    assert fields(mail(personalizations=[personalization])) == ["personalizations.0.cc"]


def test_bad_from_and_reply_to() -> None:
    assert fields(mail(**{"from": {"email": "shop"}})) == ["from.email"]
    assert fields(mail(**{"from": None})) == ["from.email"]
    assert fields(mail(reply_to={"email": "x@"})) == ["reply_to.email"]


def test_subject_may_come_from_every_personalization_or_a_template() -> None:
    per_personalization = [{"to": [{"email": "a@example.com"}], "subject": "A"}]
    assert validate_mail(mail(subject=None, personalizations=per_personalization)) == []
    assert fields(mail(subject=None)) == ["subject"]
    assert validate_mail(mail(subject=None, content=None, template_id="d-123")) == []


def test_content_is_required_non_empty_and_plain_first() -> None:
    assert fields(mail(content=None)) == ["content"]
    assert fields(mail(content=[{"type": "text/plain", "value": ""}])) == ["content.0.value"]
    html_first = [{"type": "text/html", "value": "<p>Hi</p>"}, {"type": "text/plain", "value": "Hi"}]
    assert fields(mail(content=html_first)) == ["content"]


def test_custom_args_and_headers_must_be_strings() -> None:
    assert fields(mail(custom_args={"customer_id": 42})) == ["custom_args.customer_id"]
    assert validate_mail(mail(custom_args={"customer_id": 42}))[0].message == (
        "Invalid type. Expected: string, given: integer."
    )
    assert fields(mail(headers="List-Unsubscribe: <x>")) == ["headers"]


def test_not_an_object() -> None:
    assert [e.message for e in validate_mail([1, 2])] == ["Bad Request"]


def test_messages_take_personalization_values_over_top_level() -> None:
    body = mail(
        headers={"List-Unsubscribe": "<https://shop.example/u>", "X-Flow": "top"},
        custom_args={"flow": "f1", "customer_id": "top"},
        personalizations=[
            {
                "to": [{"email": "a@example.com"}],
                "headers": {"X-Flow": "own"},
                "custom_args": {"customer_id": "a"},
            }
        ],
    )
    received = datetime(2024, 5, 1, tzinfo=UTC)

    [message] = messages_from_mail(body, "XID", received)

    assert message.id == "XID.sandbox.0.0"
    assert message.headers == {"List-Unsubscribe": "<https://shop.example/u>", "X-Flow": "own"}
    assert message.custom_args == {"flow": "f1", "customer_id": "a"}
    assert (message.text, message.html) == ("Hi", "<p>Hi</p>")
