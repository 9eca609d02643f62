"""Write keys: what a key looks like, how it is stored, and which store ids are allowed; and the
other per-store settings an operator types in (the Shopify secret, the rate limit)."""

from __future__ import annotations

import hashlib
import math
import re

from boomerang.ingest.domain.rejections import Rejected

KEY_PREFIX = "wk_"
MIN_KEY_LENGTH = 16
SHOWN_PREFIX_LENGTH = 10
MAX_SHOPIFY_SECRET_LENGTH = 200  # the column; Shopify's secrets are 32-64 characters
MAX_RATE_LIMIT_PER_S = 1_000_000.0
# The store id is half of every partition key (`store:customer`), so no colons.
_STORE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def hash_key(key: str) -> str:
    """SHA-256 of the key, hex.

    A fast unsalted hash is enough because generated keys carry 256 random bits: no
    dictionary or rainbow table covers that space, so a slow KDF (bcrypt, argon2) would only
    add latency to every request. It is also deterministic, so the key is found by an
    indexed lookup on its hash. Keys chosen by hand (`--write-key`) must be long for the same
    reason; they are meant for demos.
    """
    return hashlib.sha256(key.encode()).hexdigest()


def shown_prefix(key: str) -> str:
    """Enough of the key to recognise it in a listing, far too little to use it."""
    return key[:SHOWN_PREFIX_LENGTH]


def valid_store_id(store_id: str) -> bool:
    return bool(_STORE_ID.fullmatch(store_id))  # not match: `$` would let a trailing newline in


def check_store_id(store_id: str) -> str:
    if not valid_store_id(store_id):
        raise Rejected(
            "invalid_store_id", "store id: 1-64 letters, digits, '.', '_' or '-', no colon", "store_id"
        )
    return store_id


def check_chosen_key(key: str) -> str:
    # No colon: HTTP Basic ends the username at the first one.
    if len(key) < MIN_KEY_LENGTH or not key.isprintable() or " " in key or ":" in key:
        raise Rejected(
            "weak_write_key",
            f"a write key needs at least {MIN_KEY_LENGTH} printable characters, no spaces or colons",
            "write_key",
        )
    return key


def check_shopify_secret(secret: str) -> str:
    """The app's client secret (or the webhook signing secret of the shop's admin), as pasted."""
    secret = secret.strip()
    if not secret or len(secret) > MAX_SHOPIFY_SECRET_LENGTH or not secret.isprintable() or " " in secret:
        raise Rejected(
            "invalid_shopify_secret",
            f"a Shopify secret is 1-{MAX_SHOPIFY_SECRET_LENGTH} printable characters without spaces",
            "shopify_secret",
        )
    return secret


def check_rate_limit(events_per_s: float) -> float:
    if not math.isfinite(events_per_s) or not 0 < events_per_s <= MAX_RATE_LIMIT_PER_S:
        raise Rejected(
            "invalid_rate_limit",
            f"a rate limit is more than 0 and at most {MAX_RATE_LIMIT_PER_S:,.0f} events per second",
            "rate_limit_per_s",
        )
    return events_per_s
