"""Whatever a signed Shopify body holds, the mapping gives an event or a `Rejected`, never a crash.

Schemathesis cannot reach the mapping (it cannot sign), so hypothesis does: it replaces values
anywhere in realistic payloads with arbitrary JSON.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boomerang.ingest.domain.mapping import Rules
from boomerang.ingest.domain.rejections import Rejected
from boomerang.ingest.domain.shopify import Mapped, map_webhook, wrap

from .shopify_fixtures import payload

SAMPLES = {
    "orders/create": "orders_create",
    "orders/paid": "orders_create_guest",
    "orders/cancelled": "orders_cancelled",
    "refunds/create": "refunds_create",
    "customers/create": "customers_create",
    "customers/update": "customers_update",
    "checkouts/create": "checkouts_create",
}
ODD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "12.34",
        "-1",
        "1e999",
        "NaN",
        "Infinity",
        "subscribed",
        "pending",
        "USD",
        "usd",
        "€",
        "2024-08-29T16:36:56-04:00",
        "2024-13-45",
        "+16136120707",
        "555",
        "a@b.example",
        "x" * 300,
    ]
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8) | ODD_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def paths(value: Any, at: tuple = ()) -> list[tuple]:
    """Every place in a payload a value sits: ("line_items", 0, "price"), ..."""
    found = [at] if at else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, (*at, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += paths(inner, (*at, index))
    return found


def replaced(body: dict, path: tuple, value: Any) -> dict:
    target: Any = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return body


@st.composite
def mutated(draw) -> tuple[str, dict]:
    topic = draw(st.sampled_from(sorted(SAMPLES)))
    body = payload(SAMPLES[topic])
    for _ in range(draw(st.integers(1, 3))):
        where = paths(body)
        if not where:
            break
        body = replaced(body, draw(st.sampled_from(where)), draw(JSON))
    return topic, body


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_any_signed_body_maps_or_is_rejected(case):
    topic, body = case
    try:
        result = map_webhook(topic, body, store_id="shop", rules=Rules())
    except Rejected as exc:
        assert exc.code and exc.status_code == 400
        return
    assert isinstance(result, Mapped)
    wrap(result, store_id="shop", customer_id=result.customer_id or "c").to_bytes()
