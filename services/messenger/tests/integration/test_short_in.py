"""adapters.sql.ShortIn: an IN list of any length reads the same rows as the expanding form."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, insert, select

from boomerang.messenger.adapters.recommendations import PurchaseRow
from boomerang.messenger.adapters.sql import ShortIn

pytestmark = pytest.mark.integration
_PURCHASES = PurchaseRow.__table__
PRODUCTS = [f"p{n:03d}" for n in range(100)]


def bought_among(ids):
    return select(_PURCHASES.c.product_id).where(
        _PURCHASES.c.store_id == bindparam("store"), _PURCHASES.c.product_id.in_(ids)
    )


@pytest.mark.parametrize("count", [0, 1, 2, 3, 5, 8, 9, 64, 65, 100])
def test_any_list_length_reads_exactly_the_listed_rows(engine, count: int) -> None:
    with engine.begin() as conn:
        rows = [{"store_id": store, "customer_id": "c1", "product_id": p} for store in ("s1", "s2") for p in PRODUCTS]
        conn.execute(insert(_PURCHASES), rows)
    short_in = ShortIn(bought_among, "ids", most=64)
    asked = PRODUCTS[::-1][:count]  # not in the table's order; padded with the last one

    with engine.connect() as conn:
        found = conn.scalars(*short_in(asked, store="s1")).all()
        again = conn.scalars(*short_in(asked, store="s1")).all()  # the size's statement, kept

    assert sorted(found) == sorted(asked) and sorted(again) == sorted(asked)
