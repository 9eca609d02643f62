"""Hand-written fakes of the service layer's ports."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from boomerang.ingest.domain.stores import Store, WriteKey
from boomerang.ingest.service_layer.ports import KeyExists, StoreExists
from boomerang.shared.events import Envelope
from boomerang.shared.kafka import PublishFailed


class FakeSeen:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], datetime] = {}
        self.fail_remember = False

    async def seen_since(self, store_id: str, message_ids: Iterable[str], since: datetime) -> set[str]:
        return {m for m in message_ids if (store_id, m) in self.rows and self.rows[(store_id, m)] >= since}

    async def remember(self, store_id: str, message_ids: Iterable[str], at: datetime) -> None:
        if self.fail_remember:
            raise RuntimeError("database gone")
        for message_id in message_ids:
            self.rows[(store_id, message_id)] = at

    async def forget_before(self, before: datetime) -> int:
        old = [k for k, at in self.rows.items() if at < before]
        for key in old:
            del self.rows[key]
        return len(old)


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[Envelope] = []
        self.failing = False
        self.fail_next = 0  # fail this many publishes, then work
        self.gate: asyncio.Event | None = None  # when set, publishing waits for it

    async def publish(self, envelopes: list[Envelope]) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.failing or self.fail_next:
            self.fail_next = max(0, self.fail_next - 1)
            raise PublishFailed("kafka is down")
        self.published.extend(envelopes)


class FakeStores:
    def __init__(self) -> None:
        self.stores: dict[str, Store] = {}
        self.keys: dict[str, WriteKey] = {}

    async def add_store(self, store: Store, first_key: WriteKey) -> None:
        if store.id in self.stores:
            raise StoreExists(store.id)
        await self.add_key(first_key)
        self.stores[store.id] = store

    async def get_store(self, store_id: str) -> Store | None:
        return self.stores.get(store_id)

    async def add_key(self, key: WriteKey) -> None:
        if any(k.key_hash == key.key_hash for k in self.keys.values()):
            raise KeyExists()
        self.keys[key.id] = key

    async def key_by_hash(self, key_hash: str) -> WriteKey | None:
        return next((k for k in self.keys.values() if k.key_hash == key_hash), None)

    async def keys_of(self, store_id: str) -> list[WriteKey]:
        return [k for k in self.keys.values() if k.store_id == store_id]

    async def revoke_key(self, key_id: str, at: datetime) -> WriteKey | None:
        key = self.keys.get(key_id)
        if key is not None and key.revoked_at is None:
            key = self.keys[key_id] = replace(key, revoked_at=at)
        return key
