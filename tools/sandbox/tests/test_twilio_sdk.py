"""The official twilio SDK (sync and async), pointed at the sandbox through its http_client."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

if TYPE_CHECKING:
    from conftest import RunningSandbox

SHOP_NUMBER = "+15005550006"


def test_sdk_creates_an_sms(sandbox: RunningSandbox, twilio_client: Client) -> None:
    message = twilio_client.messages.create(
        to="+447700900123", from_=SHOP_NUMBER, body="Your cart misses you"
    )

    assert re.fullmatch(r"SM[0-9a-f]{32}", message.sid)
    assert message.account_sid == twilio_client.account_sid
    assert (message.to, message.from_, message.body) == ("+447700900123", SHOP_NUMBER, "Your cart misses you")
    assert message.status == "queued"
    assert message.direction == "outbound-api"
    assert message.num_segments == "1"
    assert message.api_version == "2010-04-01"
    assert message.price is None
    assert message.date_created is not None and message.date_created.tzinfo is not None
    assert message.uri == f"/2010-04-01/Accounts/{twilio_client.account_sid}/Messages/{message.sid}.json"
    [stored] = sandbox.outbox(provider="twilio")
    assert (stored["id"], stored["to"], stored["text"]) == (
        message.sid,
        ["+447700900123"],
        "Your cart misses you",
    )


def test_invalid_to_raises_21211(sandbox: RunningSandbox, twilio_client: Client) -> None:
    with pytest.raises(TwilioRestException) as raised:
        twilio_client.messages.create(to="0044 7700 900123", from_=SHOP_NUMBER, body="Hi")

    assert raised.value.status == 400
    assert raised.value.code == 21211
    assert raised.value.msg.endswith("The 'To' number 0044 7700 900123 is not a valid phone number.")
    assert sandbox.outbox() == []


def test_missing_body_raises_21602(twilio_client: Client) -> None:
    with pytest.raises(TwilioRestException) as raised:
        twilio_client.messages.create(to="+447700900123", from_=SHOP_NUMBER)

    assert (raised.value.status, raised.value.code) == (400, 21602)


def test_unsubscribed_test_number_raises_21610(twilio_client: Client) -> None:
    with pytest.raises(TwilioRestException) as raised:
        twilio_client.messages.create(to="+15005550004", from_=SHOP_NUMBER, body="Hi")

    assert raised.value.code == 21610


def test_wrong_account_is_401(twilio_http_client: TwilioHttpClient) -> None:
    client = Client("AC" + "1" * 32, "token", "AC" + "2" * 32, http_client=twilio_http_client)

    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to="+447700900123", from_=SHOP_NUMBER, body="Hi")

    assert (raised.value.status, raised.value.code) == (401, 20003)


def test_api_key_credentials_are_accepted(twilio_http_client: TwilioHttpClient) -> None:
    account_sid = "AC" + "3" * 32
    client = Client("SK" + "4" * 32, "secret", account_sid, http_client=twilio_http_client)

    message = client.messages.create(to="+447700900123", from_=SHOP_NUMBER, body="Hi")

    assert message.account_sid == account_sid


def test_list_filters_by_to_and_from(twilio_client: Client) -> None:
    for to in ("+447700900001", "+447700900002", "+447700900001"):
        twilio_client.messages.create(to=to, from_=SHOP_NUMBER, body=f"to {to}")
    twilio_client.messages.create(to="+447700900001", from_="+15005550007", body="other sender")

    assert len(twilio_client.messages.list()) == 4
    assert [m.body for m in twilio_client.messages.list(to="+447700900002")] == ["to +447700900002"]
    from_shop = twilio_client.messages.list(to="+447700900001", from_=SHOP_NUMBER)
    assert [m.body for m in from_shop] == ["to +447700900001", "to +447700900001"]
    assert all(m.status == "delivered" and m.date_sent is not None for m in from_shop)


def test_list_filters_by_date_sent(twilio_client: Client) -> None:
    twilio_client.messages.create(to="+447700900001", from_=SHOP_NUMBER, body="today")
    today = datetime.now(UTC)

    assert len(twilio_client.messages.list(date_sent=today)) == 1
    assert twilio_client.messages.list(date_sent=today - timedelta(days=1)) == []
    assert len(twilio_client.messages.list(date_sent_after=today - timedelta(hours=1))) == 1
    assert twilio_client.messages.list(date_sent_before=today - timedelta(hours=1)) == []


def test_list_pages_through_twilio_envelope(sandbox: RunningSandbox, twilio_client: Client) -> None:
    sids = [
        twilio_client.messages.create(to="+447700900001", from_=SHOP_NUMBER, body=str(i)).sid
        for i in range(5)
    ]

    listed = twilio_client.messages.list(page_size=2)

    assert [m.sid for m in listed] == list(reversed(sids))
    page = httpx.get(
        f"{sandbox.url}/2010-04-01/Accounts/{twilio_client.account_sid}/Messages.json",
        params={"PageSize": 2, "Page": 1},
        auth=(twilio_client.account_sid, "token"),
    ).json()
    assert (page["page"], page["page_size"], page["start"], page["end"]) == (1, 2, 2, 3)
    assert page["next_page_uri"].endswith("PageSize=2&Page=2")
    assert page["previous_page_uri"].endswith("PageSize=2&Page=0")


def test_fetch_by_sid(twilio_client: Client) -> None:
    created = twilio_client.messages.create(to="+447700900001", from_=SHOP_NUMBER, body="fetch me")

    fetched = twilio_client.messages(created.sid).fetch()

    assert (fetched.sid, fetched.body, fetched.status) == (created.sid, "fetch me", "delivered")
    with pytest.raises(TwilioRestException) as raised:
        twilio_client.messages("SM" + "f" * 32).fetch()
    assert (raised.value.status, raised.value.code) == (404, 20404)


def test_503_fault_then_recovery(sandbox: RunningSandbox, twilio_client: Client) -> None:
    sandbox.post("/_sandbox/faults", json={"provider": "twilio", "status": 503, "retry_after": 2})

    with pytest.raises(TwilioRestException) as raised:
        twilio_client.messages.create(to="+447700900001", from_=SHOP_NUMBER, body="Hi")
    assert raised.value.status == 503

    assert twilio_client.messages.create(to="+447700900001", from_=SHOP_NUMBER, body="Hi").status == "queued"
    assert len(sandbox.outbox(provider="twilio")) == 1


def test_lost_outcome_is_found_by_listing(sandbox: RunningSandbox, twilio_client: Client) -> None:
    sandbox.post("/_sandbox/faults", json={"provider": "twilio", "status": 500, "after_accept": True})

    with pytest.raises(TwilioRestException) as raised:
        twilio_client.messages.create(to="+447700900077", from_=SHOP_NUMBER, body="Did it go?")
    assert raised.value.status == 500

    [sent] = twilio_client.messages.list(to="+447700900077")
    assert (sent.body, sent.status) == ("Did it go?", "delivered")


def test_messaging_service_sender(twilio_client: Client) -> None:
    service = "MG" + "a" * 32

    message = twilio_client.messages.create(to="+447700900001", messaging_service_sid=service, body="Hi")

    assert (message.messaging_service_sid, message.status, message.from_) == (service, "accepted", None)


async def test_async_client_creates_and_lists(sandbox: RunningSandbox, async_twilio_client: Client) -> None:
    created = await async_twilio_client.messages.create_async(
        to="+447700900009", from_=SHOP_NUMBER, body="async hi"
    )

    assert created.status == "queued"
    listed = await async_twilio_client.messages.list_async(to="+447700900009")
    assert [m.sid for m in listed] == [created.sid]
    with pytest.raises(TwilioRestException) as raised:
        await async_twilio_client.messages.create_async(to="12345", from_=SHOP_NUMBER, body="Hi")
    assert (raised.value.status, raised.value.code) == (400, 21211)
