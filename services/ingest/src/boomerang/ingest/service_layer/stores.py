"""Administering stores and their write keys (the CLI's use cases)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from boomerang.ingest.domain.stores import Store, WriteKey
from boomerang.ingest.domain.write_keys import (
    KEY_PREFIX,
    check_chosen_key,
    check_store_id,
    hash_key,
    shown_prefix,
)
from boomerang.ingest.service_layer.ports import KeyExists, StoreExists, StoreRepository
from boomerang.shared.errors import BoomerangError, NotFound


class Conflict(BoomerangError):
    status_code = 409
    code = "conflict"


@dataclass(frozen=True)
class IssuedKey:
    """A new key, in clear text: the only moment anyone sees it."""

    store_id: str
    key_id: str
    key: str
    existed: bool = False


def new_write_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)  # 256 random bits


def new_key_id() -> str:
    return "key_" + secrets.token_hex(8)


async def create_store(
    stores: StoreRepository, store_id: str, *, name: str | None, chosen_key: str | None, now: datetime
) -> IssuedKey:
    """A store with its first key. Re-creating a store with the same chosen key is a no-op,
    so demo scripts can run twice."""
    check_store_id(store_id)
    key = check_chosen_key(chosen_key) if chosen_key else new_write_key()
    existing = await stores.get_store(store_id)
    if existing is not None:
        return await _same_key_or_conflict(stores, store_id, chosen_key)
    write_key = _write_key(store_id, key, now)
    try:
        await stores.add_store(Store(store_id, name or store_id, now), write_key)
    except StoreExists:
        return await _same_key_or_conflict(stores, store_id, chosen_key)
    except KeyExists:
        raise Conflict(
            "that write key is already in use", field="write_key", code="write_key_taken"
        ) from None
    return IssuedKey(store_id, write_key.id, key)


async def add_key(
    stores: StoreRepository, store_id: str, *, chosen_key: str | None, now: datetime
) -> IssuedKey:
    """Another key for the store, e.g. to rotate: add the new one, deploy it, revoke the old."""
    if await stores.get_store(store_id) is None:
        raise NotFound(f"no store {store_id!r}", field="store_id", code="store_not_found")
    key = check_chosen_key(chosen_key) if chosen_key else new_write_key()
    write_key = _write_key(store_id, key, now)
    try:
        await stores.add_key(write_key)
    except KeyExists:
        raise Conflict(
            "that write key is already in use", field="write_key", code="write_key_taken"
        ) from None
    return IssuedKey(store_id, write_key.id, key)


async def keys_of(stores: StoreRepository, store_id: str) -> list[WriteKey]:
    if await stores.get_store(store_id) is None:
        raise NotFound(f"no store {store_id!r}", field="store_id", code="store_not_found")
    return await stores.keys_of(store_id)


async def revoke_key(stores: StoreRepository, key_id: str, *, now: datetime) -> WriteKey:
    revoked = await stores.revoke_key(key_id, now)
    if revoked is None:
        raise NotFound(f"no key {key_id!r}", field="key_id", code="key_not_found")
    return revoked


def _write_key(store_id: str, key: str, now: datetime) -> WriteKey:
    return WriteKey(new_key_id(), store_id, hash_key(key), shown_prefix(key), now)


async def _same_key_or_conflict(stores: StoreRepository, store_id: str, chosen_key: str | None) -> IssuedKey:
    if chosen_key:
        found = await stores.key_by_hash(hash_key(chosen_key))
        if found is not None and found.store_id == store_id and found.active:
            return IssuedKey(store_id, found.id, chosen_key, existed=True)
    raise Conflict(f"store {store_id!r} already exists", field="store_id", code="store_exists")
