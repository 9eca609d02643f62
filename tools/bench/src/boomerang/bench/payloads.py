"""The benchmark's Segment calls: realistic, the same on every run, with ids unique to the run.

The shapes come from the demo's CDNOW history (`boomerang.devstack.history`): identify with
email, phone and consent; Order Completed with 1-4 CDs. Product Viewed and page calls, as a shop's
site sends far more of those than orders, fill out the mix. A fixed seed picks everything except
the messageIds, which carry the run id so a second run is never de-duplicated against the first.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from boomerang.devstack.history import CATALOGUE, Purchase, customer_id, identify_call, order_call

SEED = 20250301
CUSTOMERS = 5000
START = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)
# What a busy shop's Segment source sends: mostly browsing, some identifies and orders.
MIX = (("page", 0.30), ("product_viewed", 0.40), ("identify", 0.15), ("order", 0.15))
TRACK_MIX = (("product_viewed", 0.75), ("order", 0.25))
USER_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Safari/605.1.15"
)
SHOP = "https://shop.example.com"

Call = dict[str, Any]


def calls(count: int, *, run_id: str, tag: str, mix=MIX, seed: int = SEED) -> list[Call]:
    """`count` calls; messageIds are `{run_id}-{tag}{i}`, so each (run, tag) set is fresh."""
    rng = random.Random(f"{seed}-{tag}")
    kinds, weights = zip(*mix)
    made = []
    for i in range(count):
        kind = rng.choices(kinds, weights)[0]
        call = _BUILDERS[kind](rng, START + timedelta(seconds=i))
        call["messageId"] = f"{run_id}-{tag}{i:07d}"
        made.append(call)
    return made


def track_calls(count: int, *, run_id: str, tag: str) -> list[Call]:
    """Single `/v1/track` bodies: product views and orders."""
    made = calls(count, run_id=run_id, tag=tag, mix=TRACK_MIX)
    return [{k: v for k, v in call.items() if k != "type"} for call in made]


def _context(rng: random.Random, path: str) -> dict[str, Any]:
    return {
        "library": {"name": "analytics.js", "version": "5.2.1"},
        "userAgent": USER_AGENT,
        "ip": f"203.0.113.{rng.randrange(1, 255)}",
        "locale": "en-US",
        "timezone": "America/New_York",
        "page": {"url": f"{SHOP}{path}", "path": path, "referrer": "https://www.google.com/", "title": "Shop"},
    }


def _page(rng: random.Random, at: datetime) -> Call:
    product = rng.choice(CATALOGUE)
    path = rng.choice(["/", "/collections/jazz", f"/products/{product[0]}", "/cart", "/search?q=blue"])
    who = _who(rng, anonymous_share=0.5)
    return {
        "type": "page",
        **who,
        "name": "Product" if path.startswith("/products") else "Browse",
        "timestamp": at.isoformat(),
        "properties": {"url": f"{SHOP}{path}", "path": path, "title": product[1]},
        "context": _context(rng, path),
    }


def _product_viewed(rng: random.Random, at: datetime) -> Call:
    product_id, name, category = rng.choice(CATALOGUE)
    path = f"/products/{product_id}"
    return {
        "type": "track",
        "event": "Product Viewed",
        **_who(rng, anonymous_share=0.3),
        "timestamp": at.isoformat(),
        "properties": {
            "product_id": product_id,
            "sku": product_id.upper(),
            "name": name,
            "category": category,
            "price": f"{rng.randrange(899, 1899) / 100:.2f}",
            "currency": "USD",
            "url": f"{SHOP}{path}",
        },
        "context": _context(rng, path),
    }


def _identify(rng: random.Random, at: datetime) -> Call:
    n = rng.randrange(1, CUSTOMERS)
    call = identify_call(n, at)
    call["context"] = _context(rng, "/account")
    if n % 5 not in (0, 1):  # give everyone a phone here: phonenumbers is part of the cost
        call["traits"]["phone"] = f"(212) 555-{100 + n % 100:04d}"
    return call


def _order(rng: random.Random, at: datetime) -> Call:
    cds = rng.choice([1, 1, 1, 2, 2, 3, 4])
    value = Decimal(rng.randrange(999 * cds, 1999 * cds)) / 100
    call = order_call(Purchase(customer=rng.randrange(1, CUSTOMERS), day=at, cds=cds, value=value, seq=0))
    call["properties"]["email"] = f"customer{call['userId'][-5:]}@example.com"
    call["context"] = _context(rng, "/checkout/thank_you")
    return call


def _who(rng: random.Random, *, anonymous_share: float) -> dict[str, str]:
    n = rng.randrange(1, CUSTOMERS)
    if rng.random() < anonymous_share:
        return {"anonymousId": f"anon-{n:05d}-{rng.randrange(10**6):06d}"}
    return {"userId": customer_id(n)}


_BUILDERS = {"page": _page, "product_viewed": _product_viewed, "identify": _identify, "order": _order}
