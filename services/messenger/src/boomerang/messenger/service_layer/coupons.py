"""Issuing a coupon once per message, and redeeming the coupons an order carries."""

from __future__ import annotations

import secrets
from datetime import datetime

from boomerang.messenger.domain.coupons import Coupon, Draw, Offer, Redemption, codes_in, new_coupon
from boomerang.messenger.domain.stores import StoreProfile
from boomerang.messenger.service_layer.ports import CouponRepository
from boomerang.shared.events import OrderPlaced

DRAWS = 5  # 50-bit codes collide about never; five draws turn "about" into "never"


class NoFreeCode(RuntimeError):
    pass


def issue(
    coupons: CouponRepository,
    offer: Offer,
    store: StoreProfile,
    *,
    customer_id: str,
    idempotency_key: str,
    message_id: str,
    flow: str,
    timezone: str,
    now: datetime,
    draw: Draw = secrets.token_bytes,
) -> Coupon:
    """The message's coupon: the one issued before for this key, or a new one."""
    existing = coupons.for_key(idempotency_key)
    if existing is not None:
        return existing
    for _ in range(DRAWS):
        candidate = new_coupon(
            offer,
            prefix=store.coupon_code_prefix(),
            store_id=store.store_id,
            customer_id=customer_id,
            idempotency_key=idempotency_key,
            message_id=message_id,
            flow=flow,
            timezone=timezone,
            now=now,
            draw=draw,
        )
        stored = coupons.add(candidate)  # a concurrent issue for the key: its coupon comes back
        if stored is not None:
            return stored
    raise NoFreeCode(f"no unused code after {DRAWS} draws for {idempotency_key}")


def redeem_order(
    coupons: CouponRepository, store_id: str, order: OrderPlaced, now: datetime
) -> dict[str, Redemption]:
    """Marks the coupons the order used as redeemed by it; by code, what happened."""
    return {code: coupons.redeem(store_id, code, order.order_id, now) for code in codes_in(order.coupon)}
