"""Holdout: a fixed share of each marketing flow's audience gets nothing, so lift can be measured.

Membership is a hash bucket of (store, customer, flow): the same customer is always in or out
of the same flow's control group, in every process and after every restart (SHA-256, not
Python's salted `hash`), and independently of their place in other flows' groups.
"""

from __future__ import annotations

import hashlib

BUCKETS = 10_000  # 0.01 % resolution: holdout percentages may have two decimals


def holdout_bucket(store_id: str, customer_id: str, flow: str) -> int:
    # The unit separator cannot occur in ids, so ("a", "bc") and ("ab", "c") hash apart.
    digest = hashlib.sha256("\x1f".join((store_id, customer_id, flow)).encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def in_holdout(store_id: str, customer_id: str, flow: str, percent: float) -> bool:
    return holdout_bucket(store_id, customer_id, flow) < round(percent * BUCKETS / 100)
