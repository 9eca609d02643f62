"""Coupons: one unique code per recipient and message, its offer and expiry, and its redemption.

A code looks like `ACME-SAVE-K7M3Q9XH2P`: the store's prefix, the offer (`SAVE` for percent
off, `SHIP` for free shipping), and ten characters drawn from 32 symbols without 0, O, 1 and
I, so it can be read aloud and typed from a phone (50 random bits: guessing one of a million
live codes takes about 10^9 tries). A coupon is issued once per idempotency key (the message's),
so a message rendered again shows the same code. An order carrying the code redeems it; the
same order again changes nothing, and another order does not take it over.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # 32 symbols: one byte & 31 picks one uniformly
RANDOM_LENGTH = 10
OFFER_TAGS = {"percent": "SAVE", "free_shipping": "SHIP"}
_SEPARATORS = re.compile(r"[\s,;]+")

Draw = Callable[[int], bytes]  # n random bytes: secrets.token_bytes in production


class OfferKind(StrEnum):
    PERCENT = "percent"
    FREE_SHIPPING = "free_shipping"


@dataclass(frozen=True)
class Offer:
    kind: OfferKind
    expires_in_days: int
    percent: int | None = None  # percent off, for kind percent

    @classmethod
    def of(cls, definition: object) -> Offer:
        """From a flow step's `offer` (PercentOff or FreeShipping in domain.flow_definitions)."""
        kind = OfferKind(getattr(definition, "kind"))
        return cls(kind, getattr(definition, "expires_in_days"), getattr(definition, "percent", None))


@dataclass(frozen=True)
class Coupon:
    code: str
    store_id: str
    customer_id: str
    kind: OfferKind
    percent: int | None
    issued_at: datetime
    expires_at: datetime
    idempotency_key: str  # the message's: one coupon per message
    message_id: str
    flow: str
    redeemed_order_id: str | None = None
    redeemed_at: datetime | None = None

    @property
    def redeemed(self) -> bool:
        return self.redeemed_order_id is not None

    def valid_at(self, moment: datetime) -> bool:
        return not self.redeemed and moment <= self.expires_at


def random_part(draw: Draw, length: int = RANDOM_LENGTH) -> str:
    return "".join(ALPHABET[byte & 31] for byte in draw(length))


def code_for(prefix: str, offer: Offer, draw: Draw) -> str:
    return f"{prefix}-{OFFER_TAGS[offer.kind.value]}-{random_part(draw)}"


def expiry(issued_at: datetime, days: int, timezone: str) -> datetime:
    """The end of the `days`-th local day after issue: a coupon "valid until 15 March" is valid
    all of 15 March where the customer lives, not until the hour it was sent. In UTC, as stored."""
    zone = ZoneInfo(timezone)
    last_day = issued_at.astimezone(zone).date() + timedelta(days=days)
    next_midnight = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=zone)
    return (next_midnight - timedelta(microseconds=1)).astimezone(UTC)


def new_coupon(
    offer: Offer,
    *,
    prefix: str,
    store_id: str,
    customer_id: str,
    idempotency_key: str,
    message_id: str,
    flow: str,
    timezone: str,
    now: datetime,
    draw: Draw,
) -> Coupon:
    return Coupon(
        code=code_for(prefix, offer, draw),
        store_id=store_id,
        customer_id=customer_id,
        kind=offer.kind,
        percent=offer.percent if offer.kind is OfferKind.PERCENT else None,
        issued_at=now,
        expires_at=expiry(now, offer.expires_in_days, timezone),
        idempotency_key=idempotency_key,
        message_id=message_id,
        flow=flow,
    )


def normalize_code(code: str) -> str:
    return code.strip().upper()


def codes_in(coupon_field: str | None) -> list[str]:
    """The codes an order names: shops send one, or several separated by commas or spaces."""
    if not coupon_field:
        return []
    found: list[str] = []
    for part in _SEPARATORS.split(coupon_field):
        code = normalize_code(part)
        if code and code not in found:
            found.append(code)
    return found


class Redemption(StrEnum):
    REDEEMED = "redeemed"  # this order redeemed it now
    ALREADY = "already"  # this order had redeemed it already (a replay): nothing changes
    TAKEN = "taken"  # another order redeemed it first: the first order keeps it
    UNKNOWN = "unknown"  # not a code we issued (the shop's own codes)


def redeem(coupon: Coupon | None, order_id: str, now: datetime) -> tuple[Redemption, Coupon | None]:
    """The outcome of an order using `coupon`, and the coupon after it."""
    if coupon is None:
        return Redemption.UNKNOWN, None
    if coupon.redeemed_order_id == order_id:
        return Redemption.ALREADY, coupon
    if coupon.redeemed:
        return Redemption.TAKEN, coupon
    # Redeemed even when late: the shop accepted the order with it, and that is what happened.
    return Redemption.REDEEMED, replace(coupon, redeemed_order_id=order_id, redeemed_at=now)
