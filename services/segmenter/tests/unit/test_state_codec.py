from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from boomerang.segmenter.adapters.state_codec import decode_state, encode_state
from boomerang.segmenter.domain import CustomerState


def test_round_trip_keeps_every_field(envelopes):
    state = CustomerState(
        store_id="store-1",
        customer_id="anon:a1",
        orders=3,
        net_revenue=Decimal("1234.50"),
        first_order_at=envelopes.t0,
        last_order_at=envelopes.t0 + timedelta(days=3),
        last_seen_at=envelopes.t0 + timedelta(days=4),
        segments={"lifecycle": "new", "value": "vip"},
        recent_event_ids=("e1", "e2"),
        updated_at=envelopes.t0 + timedelta(days=5),
    )
    assert decode_state(encode_state(state)) == state


def test_money_is_stored_exactly():
    raw = encode_state(CustomerState("s", "c", net_revenue=Decimal("0.1") + Decimal("0.2")))
    assert json.loads(raw)["net_revenue"] == "0.3"


def test_states_written_by_an_older_version_still_decode():
    old = json.dumps({"store_id": "s", "customer_id": "c", "orders": 2, "net_revenue": "10", "retired_field": 1})
    state = decode_state(old.encode())
    assert (state.orders, state.net_revenue, state.segments, state.recent_event_ids) == (2, Decimal(10), {}, ())


def test_round_trip_keeps_orders_refunds_and_affinity(envelopes):
    from boomerang.segmenter.domain import LineItem, OrderRecord

    t0 = envelopes.t0
    state = CustomerState(
        store_id="store-1",
        customer_id="cust-1",
        orders=1,
        net_revenue=Decimal("70.10"),
        first_order_at=t0,
        last_order_at=t0,
        last_visit_at=t0 + timedelta(days=1),
        last_engaged_at=t0 + timedelta(days=2),
        order_records=(
            OrderRecord("o-0", None, refunded=Decimal("5"), refund_keys=("r-9",)),
            OrderRecord("o-1", t0, Decimal("100.10"), Decimal("30"), ("r-1",), False, "WELCOME", (LineItem("mug", "kitchen", 2),)),
        ),
        forgotten_orders=3,
        products={"mug": 2},
        categories={"kitchen": 2},
        coupons={"WELCOME": 1},
        segments={"lifecycle": "active", "value": "vip"},
        evaluated_at=t0 + timedelta(days=3),
    )
    decoded = decode_state(encode_state(state))
    assert decoded == state
    assert decoded.order_records[1].net == Decimal("70.10")
