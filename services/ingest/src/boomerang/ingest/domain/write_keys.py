"""Write keys: what a key looks like, how it is stored, and which store ids are allowed."""

from __future__ import annotations

import hashlib
import re

from boomerang.ingest.domain.rejections import Rejected

KEY_PREFIX = "wk_"
MIN_KEY_LENGTH = 16
SHOWN_PREFIX_LENGTH = 10
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


def check_store_id(store_id: str) -> str:
    if not _STORE_ID.match(store_id):
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
