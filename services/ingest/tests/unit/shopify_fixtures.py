"""Shopify webhook bodies shaped like Shopify's own samples (tests/fixtures/shopify/*.json)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent.parent / "fixtures" / "shopify"


def payload(name: str) -> dict[str, Any]:
    """A fresh copy each time, so a test may change it."""
    return copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text()))


def paid(order: dict[str, Any]) -> dict[str, Any]:
    """The orders/paid body of the same order: Shopify sends the whole order again, updated."""
    again = copy.deepcopy(order)
    again.update(financial_status="paid", updated_at="2024-08-29T16:40:12-04:00", total_outstanding="0.00")
    return again
