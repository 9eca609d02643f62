"""Properties that must hold for any input, not just the examples we thought of."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import phonenumbers
from hypothesis import given
from hypothesis import strategies as st

from boomerang.ingest.domain.contacts import normalise_phone
from boomerang.ingest.domain.mapping import Rules, to_envelope
from boomerang.ingest.domain.rejections import Rejected
from boomerang.ingest.service_layer.ingest import Rejection
from boomerang.shared.events import Envelope

NOW = datetime(2025, 3, 1, 12, tzinfo=timezone.utc)
ids = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=60
)
money = st.decimals(min_value=0, max_value=Decimal("99999.99"), places=2)
aware = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(timezone.utc)
)


def mapped(raw: dict, call: str | None = "track") -> Envelope:
    return to_envelope(raw, call=call, store_id="s1", received_at=NOW, new_id="gen", rules=Rules())


@given(user=ids, anonymous=st.one_of(st.none(), ids))
def test_a_user_id_always_wins(user, anonymous):
    assert mapped({"userId": user, "anonymousId": anonymous}, "page").customer_id == user.strip()


@given(anonymous=ids)
def test_an_anonymous_id_alone_is_always_prefixed(anonymous):
    sent = mapped({"anonymousId": anonymous}, "page")
    assert sent.customer_id == f"anon:{anonymous.strip()}" and sent.key == f"s1:anon:{anonymous.strip()}"


@given(prices=st.lists(st.tuples(money, st.integers(1, 50)), min_size=1, max_size=8), as_text=st.booleans())
def test_order_money_survives_the_trip_through_kafka_exactly(prices, as_text):
    total = sum(price * quantity for price, quantity in prices)
    encode = str if as_text else float
    products = [{"product_id": f"p{i}", "price": encode(p), "quantity": q} for i, (p, q) in enumerate(prices)]
    raw = {
        "userId": "u",
        "event": "Order Completed",
        "properties": {"order_id": "o", "total": encode(total), "products": products},
    }
    event = Envelope.from_bytes(mapped(raw).to_bytes()).event()
    assert event.total == total
    assert [(line.unit_price, line.quantity) for line in event.lines] == prices


@given(index=st.integers(0, 2499), line=st.integers(0, 20), bad=st.sampled_from([-1, "cheap", [], {}]))
def test_a_bad_price_is_reported_at_its_exact_path(index, line, bad):
    products = [{"product_id": "p", "price": 1}] * line + [{"product_id": "p", "price": bad}]
    raw = {
        "type": "track",
        "userId": "u",
        "event": "Order Completed",
        "properties": {"order_id": "o", "total": 1, "products": products},
    }
    try:
        mapped(raw, None)
    except Rejected as exc:
        rejection = Rejection(index, exc.code, exc.message, f"batch[{index}].{exc.field}")
        assert rejection.field == f"batch[{index}].properties.products[{line}].price"
    else:
        raise AssertionError("a bad price was accepted")


@given(timestamp=aware, original=aware, skew=st.timedeltas(timedelta(hours=-48), timedelta(hours=48)))
def test_event_time_follows_segment(timestamp, original, skew):
    explicit = mapped(
        {
            "userId": "u",
            "timestamp": timestamp.isoformat(),
            "originalTimestamp": original.isoformat(),
            "sentAt": (original + skew).isoformat(),
        },
        "page",
    )
    corrected = mapped(
        {"userId": "u", "originalTimestamp": original.isoformat(), "sentAt": (original + skew).isoformat()},
        "page",
    )
    assert explicit.time == timestamp
    assert corrected.time == NOW - skew


REGIONS = sorted(r for r in phonenumbers.SUPPORTED_REGIONS if phonenumbers.example_number(r) is not None)
FORMATS = [
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.RFC3966,
]


@given(region=st.sampled_from(REGIONS), style=st.sampled_from(FORMATS), national=st.booleans())
def test_any_way_of_writing_a_valid_number_gives_one_e164(region, style, national):
    number = phonenumbers.example_number(region)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if national:  # written without country code: read in the shop's default region
        written, default = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL), region
    else:
        written, default = phonenumbers.format_number(number, style), "US"
    assert normalise_phone(written, "traits.phone", default) == e164
