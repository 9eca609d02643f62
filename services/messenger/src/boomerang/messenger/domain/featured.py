"""The anniversary's products: newer or lesser-known ones the customer may not have discovered.

From the store's catalogue (see `domain.recommendations`): products of the categories the
customer bought or viewed, never bought by them, with a link. New ones first (first ordered by
anyone within `NEW_FOR`, newest first), then the lesser-known (fewest orders first). A
best-seller they never bought is not "new to them" in any interesting way; it is left to the
receipt's recommendations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from boomerang.messenger.domain.recommendations import CatalogueProduct, category_key, interests_in

NEW_FOR = timedelta(days=90)


@dataclass(frozen=True)
class Discoveries:
    """What the store knows for one customer's anniversary: candidate products, when each was
    first ordered by anyone, the customer's categories and what they bought."""

    candidates: list[CatalogueProduct] = field(default_factory=list)
    first_seen: Mapping[str, datetime] = field(default_factory=dict)
    interests: frozenset[str] = frozenset()
    bought: frozenset[str] = frozenset()


def featured(
    candidates: Iterable[CatalogueProduct],
    first_seen: Mapping[str, datetime],
    interests: Iterable[str],
    bought: Iterable[str],
    now: datetime,
    k: int = 3,
) -> list[CatalogueProduct]:
    wanted = interests_in(interests)
    owned = set(bought)
    eligible = [
        p
        for p in candidates
        if p.url and p.product_id not in owned and category_key(p.category) in wanted
    ]

    def is_new(product: CatalogueProduct) -> bool:
        seen = first_seen.get(product.product_id)
        return seen is not None and now - seen <= NEW_FOR

    new = sorted(
        (p for p in eligible if is_new(p)), key=lambda p: (-first_seen[p.product_id].timestamp(), p.product_id)
    )
    known = sorted((p for p in eligible if not is_new(p)), key=lambda p: (p.orders, p.product_id))
    return (new + known)[: max(k, 0)]
