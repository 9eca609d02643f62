"""Coupons in the messenger's store, on SQLite and PostgreSQL: issued once per message, codes
unique per store, redeemed once by the first order that uses them."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from boomerang.messenger.adapters.store import SqlCoupons
from boomerang.messenger.domain.coupons import Coupon, Offer, OfferKind, Redemption, new_coupon
from boomerang.messenger.domain.stores import StoreProfile
from boomerang.messenger.migrations import upgrade
from boomerang.messenger.service_layer import coupons as service
from boomerang.shared.db import make_engine
from boomerang.shared.events import OrderPlaced

pytestmark = pytest.mark.integration
NOW = datetime(2025, 3, 14, 9, 0, 0, 250000, tzinfo=UTC)
STORE = StoreProfile("acme", "Acme", "https://acme.example", "help@acme.example")
FIFTEEN_OFF = Offer(OfferKind.PERCENT, 14, percent=15)


@pytest.fixture
def coupons(database_url: str):
    upgrade(database_url)
    engine = make_engine(database_url)
    yield SqlCoupons(engine)
    engine.dispose()


def a_coupon(key: str = "acme/c1/win_back/we_miss_you/t1", code_bytes: bytes = b"\x05" * 10) -> Coupon:
    return new_coupon(
        FIFTEEN_OFF, prefix="ACME", store_id="acme", customer_id="anon:c/1", idempotency_key=key,
        message_id="m-1", flow="win_back", timezone="Europe/Berlin", now=NOW, draw=lambda n: code_bytes[:n],
    )


def issue(coupons: SqlCoupons, key: str) -> Coupon:
    return service.issue(
        coupons, FIFTEEN_OFF, STORE, customer_id="c1", idempotency_key=key, message_id="m-1", flow="win_back",
        timezone="UTC", now=NOW,
    )


def test_a_coupon_round_trips_with_its_offer_expiry_and_times(coupons: SqlCoupons) -> None:
    coupon = a_coupon()

    assert coupons.add(coupon) == coupon
    assert coupons.get("acme", coupon.code) == coupon
    assert coupons.get("acme", coupon.code.lower()) == coupon  # typed by hand
    assert coupons.for_key(coupon.idempotency_key) == coupon
    assert coupons.get("other-store", coupon.code) is None


def test_a_second_coupon_for_the_same_message_gives_back_the_first(coupons: SqlCoupons) -> None:
    first = a_coupon()
    coupons.add(first)

    assert coupons.add(a_coupon(code_bytes=b"\x09" * 10)) == first
    assert issue(coupons, first.idempotency_key) == first


def test_a_taken_code_is_refused_so_another_is_drawn(coupons: SqlCoupons) -> None:
    coupons.add(a_coupon())

    assert coupons.add(a_coupon(key="another-message")) is None
    assert issue(coupons, "another-message").code != a_coupon().code


def test_the_same_code_may_exist_in_two_stores(coupons: SqlCoupons) -> None:
    coupons.add(a_coupon())

    other = replace(a_coupon(key="other"), store_id="other-store")
    assert coupons.add(other) == other


def test_an_order_redeems_a_coupon_once(coupons: SqlCoupons) -> None:
    coupon = issue(coupons, "k-1")
    order = OrderPlaced(order_id="o-1", placed_at=NOW, total=Decimal("30"), coupon=coupon.code)
    later = NOW + timedelta(days=1)

    assert service.redeem_order(coupons, "acme", order, NOW) == {coupon.code: Redemption.REDEEMED}
    assert service.redeem_order(coupons, "acme", order, later) == {coupon.code: Redemption.ALREADY}
    assert coupons.redeem("acme", coupon.code, "o-2", later) is Redemption.TAKEN
    assert coupons.redeem("acme", "NOT-OURS", "o-2", later) is Redemption.UNKNOWN
    stored = coupons.get("acme", coupon.code)
    assert (stored.redeemed_order_id, stored.redeemed_at) == ("o-1", NOW)


def test_of_two_orders_redeeming_at_once_exactly_one_wins(coupons: SqlCoupons) -> None:
    for round_ in range(5):
        code = issue(coupons, f"race-{round_}").code
        barrier = threading.Barrier(2)
        outcomes: list[Redemption] = []

        def redeem(order_id: str, code: str = code) -> None:
            barrier.wait()
            outcomes.append(coupons.redeem("acme", code, order_id, NOW))

        threads = [threading.Thread(target=redeem, args=(f"o-{i}",)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == [Redemption.REDEEMED, Redemption.TAKEN]
