"""Coupon codes, expiry and redemption (pure), and issuing once per message (with a fake store)."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from boomerang.messenger.domain.coupons import (
    ALPHABET,
    Coupon,
    Offer,
    OfferKind,
    Redemption,
    codes_in,
    expiry,
    new_coupon,
    random_part,
    redeem,
)
from boomerang.messenger.domain.stores import StoreProfile
from boomerang.messenger.service_layer import coupons as service
from boomerang.shared.events import OrderPlaced

from .fakes import FakeCoupons

NOW = datetime(2025, 3, 14, 23, 30, tzinfo=UTC)
TEN_OFF = Offer(OfferKind.PERCENT, 14, percent=10)
STORE = StoreProfile("acme-01", "Acme", "https://acme.example", "help@acme.example")


def coupon(**overrides) -> Coupon:
    fields = dict(
        prefix="ACME", store_id="acme", customer_id="c1", idempotency_key="acme/c1/win_back/we_miss_you/t1",
        message_id="m1", flow="win_back", timezone="Europe/Berlin", now=NOW, draw=secrets.token_bytes,
    )
    return new_coupon(TEN_OFF, **(fields | overrides))


def test_codes_are_readable_and_say_whose_and_what_they_are() -> None:
    code = coupon().code
    prefix, offer, random = code.split("-")

    assert (prefix, offer, len(random)) == ("ACME", "SAVE", 10)
    assert set(random) <= set(ALPHABET) and not set(random) & set("01OI")
    assert new_coupon(Offer(OfferKind.FREE_SHIPPING, 7), **_fields()).code.split("-")[1] == "SHIP"


def test_codes_do_not_repeat() -> None:
    assert len({coupon().code for _ in range(2000)}) == 2000


def test_every_symbol_is_drawn_evenly() -> None:
    # 256 byte values map onto 32 symbols exactly 8 times each: no symbol is likelier.
    drawn = random_part(lambda n: bytes(range(256))[:n], 256)
    assert {drawn.count(symbol) for symbol in ALPHABET} == {8}


def test_the_store_prefix_keeps_only_readable_characters() -> None:
    assert STORE.coupon_code_prefix() == "ACME"
    assert StoreProfile("boomerang-io", "B", "u", "r").coupon_code_prefix() == "BMERAN"
    assert StoreProfile("x", "B", "u", "r", coupon_prefix="Kaffee Kontor").coupon_code_prefix() == "KAFFEE"
    assert StoreProfile("0110", "B", "u", "r").coupon_code_prefix() == "SHOP"


def test_a_coupon_is_valid_to_the_end_of_its_last_day_where_the_customer_lives() -> None:
    # 23:30 UTC on 14 March is already 15 March in Berlin: 14 days later is 29 March, all of it
    # (the clocks change to summer time on 30 March, not before).
    ends = expiry(NOW, 14, "Europe/Berlin")

    assert ends.astimezone(ZoneInfo("Europe/Berlin")).isoformat() == "2025-03-29T23:59:59.999999+01:00"
    new_york = expiry(NOW, 14, "America/New_York").astimezone(ZoneInfo("America/New_York"))
    assert new_york.isoformat() == "2025-03-28T23:59:59.999999-04:00"  # 19:30 on the 14th there
    assert coupon().valid_at(ends) and not coupon().valid_at(ends + timedelta(microseconds=1))


def test_the_codes_an_order_names() -> None:
    assert codes_in(" acme-save-k7m3q9xh2p , WELCOME10;acme-save-k7m3q9xh2p") == ["ACME-SAVE-K7M3Q9XH2P", "WELCOME10"]
    assert codes_in(None) == [] and codes_in("") == []


def test_redeeming_is_once_and_idempotent() -> None:
    fresh = coupon()
    outcome, redeemed = redeem(fresh, "o-1", NOW)
    assert outcome is Redemption.REDEEMED
    assert (redeemed.redeemed_order_id, redeemed.redeemed_at) == ("o-1", NOW)

    assert redeem(redeemed, "o-1", NOW + timedelta(hours=1)) == (Redemption.ALREADY, redeemed)
    assert redeem(redeemed, "o-2", NOW) == (Redemption.TAKEN, redeemed)
    assert redeem(None, "o-3", NOW) == (Redemption.UNKNOWN, None)


def test_a_late_redemption_is_still_recorded() -> None:
    late = NOW + timedelta(days=40)

    outcome, redeemed = redeem(coupon(), "o-1", late)

    assert outcome is Redemption.REDEEMED and redeemed.redeemed_at == late


def with_taken(*codes: str) -> FakeCoupons:
    return FakeCoupons({("acme-01", code): replace(coupon(), code=code, idempotency_key=code) for code in codes})


def issue(repo: FakeCoupons, key: str = "k1", draw=secrets.token_bytes) -> Coupon:
    return service.issue(
        repo, TEN_OFF, STORE, customer_id="c1", idempotency_key=key, message_id="m1", flow="win_back",
        timezone="UTC", now=NOW, draw=draw,
    )


def test_a_message_rendered_again_gets_the_same_code() -> None:
    repo = FakeCoupons()

    first, again = issue(repo), issue(repo)

    assert first == again and len(repo.rows) == 1
    assert issue(repo, key="k2").code != first.code


def test_a_taken_code_is_drawn_again() -> None:
    draws = iter([b"\x00" * 10, b"\x01" * 10])
    repo = with_taken("ACME-SAVE-2222222222")

    issued = issue(repo, draw=lambda n: next(draws))

    assert issued.code == "ACME-SAVE-3333333333" and repo.adds == 2


def test_a_store_that_never_has_a_free_code_is_an_error() -> None:
    repo = with_taken("ACME-SAVE-2222222222")

    with pytest.raises(service.NoFreeCode):
        issue(repo, draw=lambda n: b"\x00" * n)
    assert repo.adds == service.DRAWS


def test_an_order_redeems_the_codes_it_carries() -> None:
    repo = FakeCoupons()
    issued = issue(repo)
    order = OrderPlaced(order_id="o-9", placed_at=NOW, total=Decimal("20"), coupon=f"{issued.code.lower()}, SUMMER")

    assert service.redeem_order(repo, "acme-01", order, NOW) == {
        issued.code: Redemption.REDEEMED,
        "SUMMER": Redemption.UNKNOWN,
    }
    assert service.redeem_order(repo, "acme-01", order, NOW)[issued.code] is Redemption.ALREADY
    assert repo.get("acme-01", issued.code).redeemed_order_id == "o-9"


def _fields() -> dict:
    return dict(
        prefix="ACME", store_id="acme", customer_id="c1", idempotency_key="k", message_id="m", flow="f",
        timezone="UTC", now=NOW, draw=secrets.token_bytes,
    )


def test_a_coupon_keeps_the_offer_it_was_issued_with() -> None:
    shipping = new_coupon(Offer(OfferKind.FREE_SHIPPING, 7, percent=None), **_fields())

    assert (shipping.kind, shipping.percent) == (OfferKind.FREE_SHIPPING, None)
    assert (coupon().kind, coupon().percent) == (OfferKind.PERCENT, 10)
