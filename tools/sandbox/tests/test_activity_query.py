"""SendGrid Email Activity query language, the part the messenger uses."""

from datetime import UTC, datetime

import pytest

from boomerang.sandbox.outbox import OutboxMessage
from boomerang.sandbox.sendgrid_activity import InvalidQuery, parse_query, search


def email(msg_id: str, to: str, **custom_args: str) -> OutboxMessage:
    return OutboxMessage(
        id=msg_id,
        provider="sendgrid",
        to=[to],
        from_="hello@shop.example",
        subject="Hi",
        custom_args=custom_args,
        received_at=datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
    )


MESSAGES = [
    email("m1", "ada@example.com", customer_id="c1", flow="winback"),
    email("m2", "bob@example.com", customer_id="c2", flow="winback"),
    email("m3", "ada@example.com", customer_id="c1", flow="welcome"),
]


def ids(query: str, limit: int = 10) -> list[str]:
    return [row["msg_id"] for row in search(MESSAGES, parse_query(query), limit)]


def test_unique_args_equality() -> None:
    assert ids("unique_args['customer_id']=\"c1\"") == ["m1", "m3"]


def test_and_with_parentheses_and_negation() -> None:
    assert ids("(unique_args['customer_id']=\"c1\") AND (unique_args['flow']!=\"welcome\")") == ["m1"]
    assert ids('to_email="ada@example.com" and msg_id="m3"') == ["m3"]


def test_empty_query_lists_everything_up_to_limit() -> None:
    assert ids("", limit=2) == ["m1", "m2"]


def test_other_providers_are_not_email_activity() -> None:
    sms = OutboxMessage(
        id="SM1", provider="twilio", to=["+4477"], from_="+1500", received_at=MESSAGES[0].received_at
    )
    assert search([sms], [], 10) == []


def test_row_shape() -> None:
    [row] = search(MESSAGES[:1], [], 10)
    assert row == {
        "from_email": "hello@shop.example",
        "msg_id": "m1",
        "subject": "Hi",
        "to_email": "ada@example.com",
        "status": "delivered",
        "opens_count": 0,
        "clicks_count": 0,
        "last_event_time": "2024-05-01T12:30:00Z",
    }


@pytest.mark.parametrize(
    "query",
    [
        "unique_args['customer_id'] LIKE \"c%\"",
        'customer_id="c1"',
        "to_email=ada@example.com",
        'a="1" OR b="2"',
    ],
)
def test_unsupported_queries_are_refused(query: str) -> None:
    with pytest.raises(InvalidQuery):
        parse_query(query)
