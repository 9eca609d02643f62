"""Properties that must hold for any input, not just the examples we thought of."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import phonenumbers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boomerang.ingest.domain.contacts import normalise_phone
from boomerang.ingest.domain.mapping import CALL_TYPES, TRACKED, Rules, to_call, to_envelope
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
def test_event_time_follows_segment_given_a_timestamp_or_a_skew(timestamp, original, skew):
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


maybe_time = st.one_of(st.none(), aware)


@given(timestamp=maybe_time, original=maybe_time, sent=maybe_time)
def test_event_time_is_timestamp_else_skew_corrected_original_else_received_at(timestamp, original, sent):
    raw = {"userId": "u"}
    for name, value in (("timestamp", timestamp), ("originalTimestamp", original), ("sentAt", sent)):
        if value is not None:
            raw[name] = value.isoformat()
    time = mapped(raw, "page").time
    if timestamp is not None:
        assert time == timestamp
    elif original is not None and sent is not None:
        assert time == NOW - (sent - original)
    else:
        assert time == NOW  # originalTimestamp without sentAt says nothing about the skew


@given(naive=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)))
def test_a_timestamp_without_offset_is_utc(naive):
    assert mapped({"userId": "u", "timestamp": naive.isoformat()}, "page").time == naive.replace(
        tzinfo=timezone.utc
    )


# --- arbitrary JSON -----------------------------------------------------------------------------

# Keys and values the mapping reads, mixed with anything, so generated calls reach deep paths.
WORDS = st.sampled_from(
    [
        *CALL_TYPES, *TRACKED, "", " ", "yes", "subscribed", "maybe", "USD", "eur", "$", "-1", "1e999",
        "NaN", "12.50", "1990-05-17", "1990-02-30", "2025-03-01T10:00:00Z", "0001-01-01T00:00:00+14:00",
        "ada@example.com", "not-an-email", "+12025550143", "(202) 555-0143", "Europe/Amsterdam",
        "Mars/Base", "en_US", "x" * 300,
    ]
)  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    WORDS,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
offsets = st.timedeltas(timedelta(hours=-23, minutes=-59), timedelta(hours=23, minutes=59)).map(timezone)
any_time = st.datetimes(timezones=st.one_of(st.none(), offsets)).map(lambda t: t.isoformat())
values = st.one_of(st.sampled_from(["", " ", None]), scalars, any_time, json_values)  # blanks are "absent"


def shaped(names: list[str], value=values):
    return st.dictionaries(st.sampled_from(names), value, max_size=len(names))


product = shaped(["product_id", "sku", "name", "category", "price", "quantity", "url"])
properties = st.one_of(
    shaped(
        [
            "order_id",
            "checkout_id",
            "cart_id",
            "refund_id",
            "total",
            "revenue",
            "value",
            "subtotal",
            "tax",
            "shipping",
            "discount",
            "currency",
            "product_id",
            "sku",
            "price",
            "quantity",
            "url",
            "reason",
            "email",
            "phone",
            "recovery_url",
            "checkout_url",
            "path",
            "title",
            "referrer",
        ]
    ),  # fmt: skip
    st.fixed_dictionaries(
        {"products": st.one_of(st.lists(product, max_size=3), values)}, optional={"total": values}
    ),
    json_values,
)
consent_object = shaped(["subscribed", "source", "at"])
traits = st.one_of(
    shaped(
        [
            "email",
            "phone",
            "firstName",
            "last_name",
            "birthday",
            "timezone",
            "locale",
            "email_consent",
            "emailConsentSource",
            "email_consent_at",
            "sms_marketing_consent",
            "sms_consent_source",
            "smsConsentAt",
        ],
        st.one_of(values, consent_object),
    ),  # fmt: skip
    json_values,
)
calls = st.fixed_dictionaries(
    {},
    optional={
        "type": st.one_of(st.sampled_from(CALL_TYPES), values),
        "userId": st.one_of(ids, values),
        "anonymousId": st.one_of(ids, values),
        "previousId": st.one_of(ids, values),
        "groupId": values,
        "messageId": values,
        "timestamp": st.one_of(any_time, values),
        "originalTimestamp": st.one_of(any_time, values),
        "sentAt": st.one_of(any_time, values),
        "event": st.one_of(st.sampled_from(sorted(TRACKED)), values),
        "name": values,
        "traits": traits,
        "properties": properties,
        "context": st.one_of(
            shaped(["traits", "page", "timezone", "locale"], st.one_of(traits, values)), values
        ),
    },
)


@given(
    times=st.fixed_dictionaries(
        {}, optional={"timestamp": any_time, "originalTimestamp": any_time, "sentAt": any_time}
    ),
    received=st.datetimes(datetime(1970, 1, 2), datetime(2099, 12, 30), timezones=st.just(timezone.utc)),
)
def test_any_timestamps_give_a_sane_time_or_a_timestamp_rejection(times, received):
    try:
        sent = to_envelope(
            {"userId": "u", **times},
            call="page",
            store_id="s1",
            received_at=received,
            new_id="g",
            rules=Rules(),
        )
    except Rejected as exc:
        assert exc.code == "invalid_timestamp" and exc.field in times
    else:
        assert (
            datetime(1970, 1, 1, tzinfo=timezone.utc) <= sent.time < datetime(2100, 1, 1, tzinfo=timezone.utc)
        )
        assert Envelope.from_bytes(sent.to_bytes()).time == sent.time


# Mostly valid calls with a few odd fields: they get past the first check to every mapper's details.
good_id = st.text("abc123", min_size=1, max_size=4)
good_money = st.one_of(st.integers(0, 10_000), st.decimals(0, 10_000, places=2).map(str))
PROPERTY_NAMES = [
    "checkout_id", "cart_id", "refund_id", "revenue", "value", "subtotal", "tax", "shipping",
    "discount", "currency", "sku", "price", "quantity", "url", "reason", "email", "phone",
    "recovery_url", "checkout_url", "coupon", "name", "category",
]  # fmt: skip
good_product = st.fixed_dictionaries(
    {"product_id": good_id, "price": good_money},
    optional={name: values for name in ["sku", "name", "category", "quantity", "url"]},
)
commerce = st.fixed_dictionaries(
    {
        "userId": good_id,
        "event": st.sampled_from(sorted(TRACKED)),
        "properties": st.fixed_dictionaries(
            {"order_id": good_id, "product_id": good_id, "total": good_money},
            optional={"products": st.lists(st.one_of(good_product, product), max_size=3)}
            | {name: values for name in PROPERTY_NAMES},
        ),
    },
    optional={"anonymousId": good_id, "context": st.fixed_dictionaries({"traits": traits})},
)
TRAIT_NAMES = [
    "phone", "first_name", "lastName", "birthday", "timezone", "locale", "email_consent",
    "email_consent_source", "email_consent_at", "smsConsent", "smsConsentSource", "sms_marketing_consent_at",
]  # fmt: skip
identified = st.fixed_dictionaries(
    {
        "userId": good_id,
        "traits": st.fixed_dictionaries(
            {"email": st.just("ada@example.com")},
            optional={name: st.one_of(values, consent_object) for name in TRAIT_NAMES},
        ),
    },
    optional={"anonymousId": good_id, "context": shaped(["timezone", "locale"])},
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.one_of(commerce, identified), call=st.sampled_from(["track", "identify"]))
def test_mostly_valid_calls_are_mapped_or_rejected_never_an_error(raw, call):
    mapped_or_rejected(raw, call)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.one_of(calls, json_values), call=st.sampled_from([None, *CALL_TYPES]))
def test_any_json_is_mapped_or_rejected_with_a_code_never_an_error(raw, call):
    mapped_or_rejected(raw, call)


def mapped_or_rejected(raw, call: str | None) -> None:
    try:
        result = to_call(raw, call=call, store_id="s1", received_at=NOW, new_id="gen", rules=Rules())
    except Rejected as exc:
        assert exc.status_code == 400 and exc.code and exc.message
        assert exc.field is None or isinstance(exc.field, str)
        return
    # Whatever is accepted goes through Kafka and back into its typed event intact.
    envelope = result.envelope
    again = Envelope.from_bytes(envelope.to_bytes())
    assert again == envelope
    assert again.event().model_dump(mode="json") == envelope.data
    assert all(link.customer_id == envelope.customer_id for link in result.links)
