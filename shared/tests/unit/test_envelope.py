from datetime import datetime, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from boomerang.shared.events import (
    CustomerIdentified,
    Envelope,
    OrderLine,
    OrderPlaced,
    SegmentChanged,
    UnknownEventType,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def order() -> OrderPlaced:
    return OrderPlaced(
        order_id="o-1",
        placed_at=NOW,
        total=Decimal("19.98"),
        lines=[OrderLine(product_id="p-1", name="Kind of Blue", quantity=2, unit_price=Decimal("9.99"))],
    )


def test_an_envelope_survives_the_wire_with_its_typed_payload() -> None:
    envelope = Envelope.wrap(order(), store_id="s1", customer_id="c1", source="ingest", time=NOW)

    back = Envelope.from_bytes(envelope.to_bytes())

    assert back == envelope
    assert back.event() == order()
    assert back.type == "commerce.order.placed" and back.schema_version == 1


def test_money_keeps_its_cents_exactly() -> None:
    envelope = Envelope.wrap(order(), store_id="s1", customer_id="c1", source="ingest", time=NOW)
    assert b'"total":"19.98"' in envelope.to_bytes()
    assert Envelope.from_bytes(envelope.to_bytes()).event().total == Decimal("19.98")


def test_the_partition_key_is_store_and_customer() -> None:
    envelope = Envelope.wrap(CustomerIdentified(email="a@example.com"), store_id="s1", customer_id="c9", source="x", time=NOW)
    assert envelope.key == "s1:c9"


def test_an_unknown_type_is_named_in_the_error() -> None:
    envelope = Envelope(
        id="1", type="commerce.nothing", source="x", time=NOW, store_id="s", customer_id="c", data={}
    )
    with pytest.raises(UnknownEventType, match="commerce.nothing"):
        envelope.event()


def test_a_payload_with_unexpected_fields_is_rejected() -> None:
    envelope = Envelope.wrap(order(), store_id="s1", customer_id="c1", source="ingest", time=NOW)
    tampered = envelope.model_copy(update={"data": {**envelope.data, "surprise": 1}})
    with pytest.raises(ValidationError):
        tampered.event()


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValidationError):
        SegmentChanged(
            from_segment=None, to_segment="new", reason="first order",
            changed_at=datetime(2026, 1, 1), orders=1, revenue=Decimal("1"),
        )


def test_attribution_round_trips_through_provider_args_and_ignores_junk() -> None:
    from boomerang.shared.events.attribution import MessageAttribution

    ids = MessageAttribution("m-1", "s1", "c1", "receipt")
    echoed = {**ids.as_args(), "sg_event_id": "x", "boomerang_flow": ""}
    back = MessageAttribution.from_args(echoed)
    assert back == MessageAttribution("m-1", "s1", "c1", None)
    assert MessageAttribution.from_args({"boomerang_store_id": 7}).store_id is None
