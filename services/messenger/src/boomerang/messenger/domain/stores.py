"""What the messenger knows about a store: its name and shop URL for the copy, the reply-to
address of every message, its default locale and time zone, and its coupon prefix."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NOT_CODE = re.compile(r"[^A-Z2-9]")


@dataclass(frozen=True)
class StoreProfile:
    store_id: str
    name: str
    url: str  # the shop's home page; product links come with the data
    reply_to: str  # where a customer's reply goes: a person, never a no-reply box
    default_locale: str = "en_US"  # for customers whose locale is unknown
    default_timezone: str = "UTC"
    postal_address: str | None = None  # marketing mail must show one (CAN-SPAM)
    coupon_prefix: str | None = None  # e.g. "ACME"; default: from the store id

    def coupon_code_prefix(self) -> str:
        """Up to 6 readable capitals and digits (no 0, O, 1, I), so a code says whose it is."""
        raw = (self.coupon_prefix or self.store_id).upper().replace("0", "").replace("1", "")
        return _NOT_CODE.sub("", raw.replace("O", "").replace("I", ""))[:6] or "SHOP"
