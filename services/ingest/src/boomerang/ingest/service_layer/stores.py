"""Administering stores, their write keys and their settings (the CLI's use cases)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime

from boomerang.ingest.domain.stores import Store, WriteKey
from boomerang.ingest.domain.write_keys import (
    KEY_PREFIX,
    check_chosen_key,
    check_rate_limit,
    check_shopify_secret,
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
    stores: StoreRepository,
    store_id: str,
    *,
    name: str | None,
    chosen_key: str | None,
    now: datetime,
    shopify_secret: str | None = None,
    rate_limit_per_s: float | None = None,
) -> IssuedKey:
    """A store with its first key. Re-creating a store with the same chosen key changes nothing
    but the settings given, so demo scripts can run twice."""
    check_store_id(store_id)
    key = check_chosen_key(chosen_key) if chosen_key else new_write_key()
    secret = check_shopify_secret(shopify_secret) if shopify_secret is not None else None
    rate = check_rate_limit(rate_limit_per_s) if rate_limit_per_s is not None else None
    existing = await stores.get_store(store_id)
    if existing is not None:
        return await _same_store_again(stores, existing, chosen_key, secret, rate)
    write_key = _write_key(store_id, key, now)
    try:
        await stores.add_store(Store(store_id, name or store_id, now, secret, rate), write_key)
    except StoreExists:
        existing = await _store(stores, store_id)
        return await _same_store_again(stores, existing, chosen_key, secret, rate)
    except KeyExists:
        raise Conflict(
            "that write key is already in use", field="write_key", code="write_key_taken"
        ) from None
    return IssuedKey(store_id, write_key.id, key)


async def add_key(
    stores: StoreRepository, store_id: str, *, chosen_key: str | None, now: datetime
) -> IssuedKey:
    """Another key for the store, e.g. to rotate: add the new one, deploy it, revoke the old."""
    await _store(stores, store_id)
    key = check_chosen_key(chosen_key) if chosen_key else new_write_key()
    write_key = _write_key(store_id, key, now)
    try:
        await stores.add_key(write_key)
    except KeyExists:
        raise Conflict(
            "that write key is already in use", field="write_key", code="write_key_taken"
        ) from None
    return IssuedKey(store_id, write_key.id, key)


async def rotate_key(
    stores: StoreRepository,
    store_id: str,
    *,
    chosen_key: str | None,
    revoke: str | None,
    now: datetime,
) -> tuple[IssuedKey, WriteKey | None]:
    """A new key, and optionally the old one revoked, in that order: the store is never keyless.

    The key to revoke must belong to this store, so a typo cannot revoke another shop's key.
    """
    if revoke is not None and revoke not in {k.id for k in await keys_of(stores, store_id)}:
        raise NotFound(f"store {store_id!r} has no key {revoke!r}", field="revoke", code="key_not_found")
    issued = await add_key(stores, store_id, chosen_key=chosen_key, now=now)
    revoked = await revoke_key(stores, revoke, now=now) if revoke is not None else None
    return issued, revoked


async def keys_of(stores: StoreRepository, store_id: str) -> list[WriteKey]:
    await _store(stores, store_id)
    return await stores.keys_of(store_id)


async def set_shopify_secret(stores: StoreRepository, store_id: str, secret: str | None) -> Store:
    """Set (or, with None, remove) the secret Shopify signs this store's webhooks with."""
    store = await _store(stores, store_id)
    checked = check_shopify_secret(secret) if secret is not None else None
    return await _save(stores, replace(store, shopify_secret=checked))


async def set_rate_limit(stores: StoreRepository, store_id: str, events_per_s: float | None) -> Store:
    """Events per second the store may send; None returns it to the service's default."""
    store = await _store(stores, store_id)
    checked = check_rate_limit(events_per_s) if events_per_s is not None else None
    return await _save(stores, replace(store, rate_limit_per_s=checked))


async def store_of_id(stores: StoreRepository, store_id: str) -> Store:
    return await _store(stores, store_id)


async def revoke_key(stores: StoreRepository, key_id: str, *, now: datetime) -> WriteKey:
    revoked = await stores.revoke_key(key_id, now)
    if revoked is None:
        raise NotFound(f"no key {key_id!r}", field="key_id", code="key_not_found")
    return revoked


def _write_key(store_id: str, key: str, now: datetime) -> WriteKey:
    return WriteKey(new_key_id(), store_id, hash_key(key), shown_prefix(key), now)


async def _same_store_again(
    stores: StoreRepository, store: Store, chosen_key: str | None, secret: str | None, rate: float | None
) -> IssuedKey:
    issued = await _same_key_or_conflict(stores, store.id, chosen_key)
    changed = replace(
        store,
        shopify_secret=secret if secret is not None else store.shopify_secret,
        rate_limit_per_s=rate if rate is not None else store.rate_limit_per_s,
    )
    if changed != store:
        await _save(stores, changed)
    return issued


async def _same_key_or_conflict(stores: StoreRepository, store_id: str, chosen_key: str | None) -> IssuedKey:
    if chosen_key:
        found = await stores.key_by_hash(hash_key(chosen_key))
        if found is not None and found.store_id == store_id and found.active:
            return IssuedKey(store_id, found.id, chosen_key, existed=True)
    raise Conflict(f"store {store_id!r} already exists", field="store_id", code="store_exists")


async def _store(stores: StoreRepository, store_id: str) -> Store:
    store = await stores.get_store(store_id)
    if store is None:
        raise NotFound(f"no store {store_id!r}", field="store_id", code="store_not_found")
    return store


async def _save(stores: StoreRepository, store: Store) -> Store:
    if not await stores.update_store(store):
        raise NotFound(f"no store {store.id!r}", field="store_id", code="store_not_found")
    return store
