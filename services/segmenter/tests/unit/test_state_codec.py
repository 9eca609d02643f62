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
