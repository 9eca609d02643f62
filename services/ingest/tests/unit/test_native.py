"""Native events: the pure checks of one event, and the handler over fake ports."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from boomerang.ingest.domain.mapping import Rules
from boomerang.ingest.domain.native import NATIVE_EVENTS, native_items, to_envelope
from boomerang.ingest.domain.rejections import Rejected
from boomerang.ingest.service_layer.ingest import BatchRejected
from boomerang.ingest.service_layer.native import NativeEvents
from boomerang.shared.events import CustomerIdentified, OrderPlaced

from .fakes import FakePublisher, fake_ingest

NOW = datetime(2025, 3, 1, 12, tzinfo=timezone.utc)
ORDER = {
    "id": "order-1001",
    "type": "commerce.order.placed",
    "time": "2025-03-01T10:05:00+01:00",
    "customer_id": "cust-1",
    "data": {
        "order_id": "1001",
        "placed_at": "2025-03-01T10:05:00+01:00",
        "currency": "eur",
        "total": "27.50",
        "lines": [{"product_id": "mug", "name": "Mug", "unit_price": "13.75", "quantity": 2}],
        "email": " Ada@Example.com ",
    },
}


def envelope_of(raw, new_id="gen-1"):
    return to_envelope(raw, store_id="shop-a", received_at=NOW, new_id=new_id, rules=Rules())


def rejection_of(raw) -> tuple[str, str | None]:
    with pytest.raises(Rejected) as caught:
        envelope_of(raw)
    return caught.value.code, caught.value.field


def test_an_order_is_checked_against_its_model_and_normalised():
    envelope = envelope_of(ORDER)
    assert (envelope.id, envelope.type, envelope.store_id, envelope.customer_id, envelope.source) == (
        "order-1001",
        "commerce.order.placed",
        "shop-a",
        "cust-1",
        "ingest.native",
    )
    assert envelope.time == datetime(2025, 3, 1, 9, 5, tzinfo=timezone.utc)
    order = envelope.event()
    assert isinstance(order, OrderPlaced)
    assert (order.total, order.currency, order.email) == (Decimal("27.50"), "EUR", "Ada@example.com")


def test_missing_id_and_time_are_filled_in():
    envelope = envelope_of({"type": "commerce.page.viewed", "customer_id": "c", "data": {}}, new_id="gen-7")
    assert (envelope.id, envelope.time) == ("gen-7", NOW)


def test_a_phone_is_stored_in_e164():
    raw = {"type": "commerce.customer.identified", "customer_id": "c", "data": {"phone": "(202) 555-0143"}}
    assert envelope_of(raw).event() == CustomerIdentified(phone="+12025550143")


LINE = {"product_id": "m", "name": "M"}
HUGE = {**LINE, "unit_price": 1, "quantity": 10**13}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"type": "commerce.identity.linked"}, ("unsupported_type", "type")),
        ({"type": "privacy.erasure.requested"}, ("unsupported_type", "type")),
        ({"type": None}, ("invalid_field", "type")),
        ({"customer_id": ""}, ("invalid_field", "customer_id")),
        ({"customerId": "c"}, ("invalid_field", "customerId")),
        ({"time": "2025-03-01T10:05:00"}, ("invalid_timestamp", "time")),
        ({"id": "x" * 129}, ("invalid_field", "id")),
        ({"data": {**ORDER["data"], "total": "-1"}}, ("invalid_field", "data.total")),
        ({"data": {**ORDER["data"], "total": "1e400"}}, ("invalid_field", "data.total")),
        ({"data": {**ORDER["data"], "currency": "euro"}}, ("invalid_currency", "data.currency")),
        ({"data": {**ORDER["data"], "email": "not-an-email"}}, ("invalid_email", "data.email")),
        ({"data": {**ORDER["data"], "lines": [LINE]}}, ("missing_field", "data.lines[0].unit_price")),
        ({"data": {**ORDER["data"], "lines": [HUGE]}}, ("invalid_field", "data.lines[0].quantity")),
        ({"data": {**ORDER["data"], "surprise": 1}}, ("invalid_field", "data.surprise")),
    ],
)  # fmt: skip
def test_each_rejection_names_its_code_and_field(change, expected):
    assert rejection_of({**ORDER, **change}) == expected


def test_missing_customer_and_data_are_missing_fields():
    assert rejection_of({"type": "commerce.page.viewed", "data": {}}) == ("missing_field", "customer_id")
    assert rejection_of({"type": "commerce.page.viewed", "customer_id": "c"}) == ("missing_field", "data")
    assert rejection_of(["not", "an", "object"]) == ("invalid_field", None)


def test_only_commerce_events_a_shop_states_are_native():
    assert all(t.startswith("commerce.") for t in NATIVE_EVENTS)
    assert "commerce.order.placed" in NATIVE_EVENTS and "commerce.identity.linked" not in NATIVE_EVENTS


def test_a_body_is_one_event_or_a_list():
    assert native_items({"type": "t", "writeKey": "k"}, 10) == ([{"type": "t"}], False)
    assert native_items({"events": [{"type": "t"}], "writeKey": "k"}, 10) == ([{"type": "t"}], True)
    for body, code, field in (
        ({"events": [{}] * 11}, "too_many_events", "events"),
        ({"events": []}, "empty_batch", "events"),
        ({"events": {}}, "invalid_field", "events"),
        ({"events": [], "type": "t"}, "invalid_field", "type"),
    ):
        with pytest.raises(Rejected) as caught:
            native_items(body, 10)
        assert (caught.value.code, caught.value.field) == (code, field)


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def native(publisher) -> NativeEvents:
    ids = (f"gen-{n}" for n in itertools.count())
    return NativeEvents(
        ingest=fake_ingest(publisher, NOW), rules=Rules(), clock=lambda: NOW, new_id=lambda: next(ids)
    )


async def test_valid_events_are_published_and_invalid_ones_reported_with_their_path(native, publisher):
    page = {"type": "commerce.page.viewed", "customer_id": "c", "data": {"url": "https://x.example/"}}
    bad = {**ORDER, "id": "bad", "data": {**ORDER["data"], "lines": [{"name": "Mug", "unit_price": 1}]}}
    received = await native.receive({"events": [ORDER, bad, page]}, store_id="shop-a", max_events=10)

    assert [e.id for e in publisher.published] == ["order-1001", "gen-2"]
    assert received.ids == [(0, "order-1001"), (2, "gen-2")]
    [rejection] = received.outcome.rejected
    assert (rejection.index, rejection.code, rejection.field) == (
        1,
        "missing_field",
        "events[1].data.lines[0].product_id",
    )


async def test_a_repeated_id_is_published_once(native, publisher):
    first = await native.receive(ORDER, store_id="shop-a", max_events=10)
    again = await native.receive({"events": [ORDER, ORDER]}, store_id="shop-a", max_events=10)
    assert [e.id for e in publisher.published] == ["order-1001"]
    assert (first.outcome.duplicates, again.outcome.accepted, again.outcome.duplicates) == (0, 2, 2)


async def test_when_every_event_is_invalid_nothing_is_published(native, publisher):
    with pytest.raises(BatchRejected) as caught:
        await native.receive({**ORDER, "type": "commerce.nope"}, store_id="shop-a", max_events=10)
    assert [(r.index, r.code, r.field) for r in caught.value.rejected] == [(0, "unsupported_type", "type")]
    assert publisher.published == []
