"""Hand-written fakes of the service layer's ports."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from boomerang.ingest.domain.identity import Link
from boomerang.ingest.domain.mapping import Rules
from boomerang.ingest.domain.stores import Store, WriteKey
from boomerang.ingest.service_layer.ingest import Ingest
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

    async def update_store(self, store: Store) -> bool:
        if store.id not in self.stores:
            return False
        self.stores[store.id] = store
        return True

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


class FakeIdentities:
    """Links and kept anonymous events in dicts, counting lookups so tests can bound them."""

    def __init__(self) -> None:
        self.links: dict[tuple[str, str], str] = {}
        self.kept_events: dict[tuple[str, str], tuple[Envelope, datetime]] = {}
        self.lookups = 0
        self.fail_link = False

    async def linked(self, store_id: str, previous_ids: Iterable[str]) -> dict[str, str]:
        self.lookups += 1
        return {p: self.links[(store_id, p)] for p in previous_ids if (store_id, p) in self.links}

    async def link(self, store_id: str, links: Iterable[Link], at: datetime) -> None:
        if self.fail_link:
            raise RuntimeError("database gone")
        for link in links:
            self.links.setdefault((store_id, link.previous_id), link.customer_id)
            self._drop_kept_of(store_id, {link.previous_id})

    async def keep(self, store_id: str, envelopes: Iterable[Envelope], at: datetime) -> None:
        for envelope in envelopes:
            self.kept_events.setdefault((store_id, envelope.id), (envelope, at))

    async def kept(self, store_id: str, customer_ids: Iterable[str], limit: int) -> list[Envelope]:
        found: list[Envelope] = []
        for customer_id in set(customer_ids):
            rows = [
                (at, e.id, e)
                for (s, _), (e, at) in self.kept_events.items()
                if s == store_id and e.customer_id == customer_id
            ]
            found += [e for _, _, e in sorted(rows, key=lambda r: r[:2], reverse=True)[:limit]]
        return sorted(found, key=lambda e: (e.time, e.id))

    async def forget_kept_before(self, before: datetime) -> int:
        old = [key for key, (_, at) in self.kept_events.items() if at < before]
        for key in old:
            del self.kept_events[key]
        return len(old)

    async def forget_customer(self, store_id: str, customer_id: str) -> int:
        earlier = {p for (s, p), c in self.links.items() if s == store_id and c == customer_id}
        gone = self._drop_kept_of(store_id, earlier | {customer_id})
        for (s, p), c in list(self.links.items()):
            if s == store_id and customer_id in (p, c):
                del self.links[(s, p)]
                gone += 1
        return gone

    def _drop_kept_of(self, store_id: str, customer_ids: set[str]) -> int:
        doomed = [
            key
            for key, (envelope, _) in self.kept_events.items()
            if key[0] == store_id and envelope.customer_id in customer_ids
        ]
        for key in doomed:
            del self.kept_events[key]
        return len(doomed)


def fake_ingest(publisher: FakePublisher, now: datetime) -> Ingest:
    """`Ingest` over fakes with the service's defaults: a new FakeSeen, a 24 h window, a clock
    stopped at `now`, and ids `gen-0`, `gen-1`... for calls sent without one."""
    ids = (f"gen-{n}" for n in itertools.count())
    return Ingest(
        seen=FakeSeen(),
        publisher=publisher,
        rules=Rules(),
        dedup_window=timedelta(hours=24),
        clock=lambda: now,
        new_id=lambda: next(ids),
    )
