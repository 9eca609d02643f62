"""What the use cases need from the outside world; adapters implement these, tests fake them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from boomerang.ingest.domain.identity import Link
from boomerang.ingest.domain.stores import Store, WriteKey
from boomerang.shared.errors import ServiceUnavailable
from boomerang.shared.events import Envelope


class StoreRepository(Protocol):
    async def add_store(self, store: Store, first_key: WriteKey) -> None:
        """Add the store with its first key; raises StoreExists if the id is taken."""

    async def get_store(self, store_id: str) -> Store | None: ...

    async def update_store(self, store: Store) -> bool:
        """Save the store's name, Shopify secret and rate limit; False if there is no such store."""

    async def add_key(self, key: WriteKey) -> None:
        """Raises KeyExists if a key with the same hash exists."""

    async def key_by_hash(self, key_hash: str) -> WriteKey | None: ...

    async def keys_of(self, store_id: str) -> list[WriteKey]: ...

    async def revoke_key(self, key_id: str, at: datetime) -> WriteKey | None:
        """Revoke (idempotently); None if there is no such key."""


class SeenMessages(Protocol):
    """The de-duplication window: which message ids a store already had published."""

    async def seen_since(self, store_id: str, message_ids: Iterable[str], since: datetime) -> set[str]: ...

    async def remember(self, store_id: str, message_ids: Iterable[str], at: datetime) -> None:
        """Record (or refresh) the ids; safe to call twice for the same id."""

    async def forget_before(self, before: datetime) -> int: ...


class IdentityRepository(Protocol):
    """Which customer an earlier id (`anon:<anonymousId>`, an older userId) is now, and the
    anonymous visitors' events kept to publish again under the customer they turn out to be."""

    async def linked(self, store_id: str, previous_ids: Iterable[str]) -> dict[str, str]:
        """previous id -> customer id, for those of the ids that are linked."""

    async def link(self, store_id: str, links: Iterable[Link], at: datetime) -> None:
        """Record the links whose previous id is not linked yet (the first link wins), and drop
        the events kept for their previous ids: they were published again under the customer."""

    async def keep(self, store_id: str, envelopes: Iterable[Envelope], at: datetime) -> None:
        """Keep these anonymous visitors' events (idempotent on the envelope id)."""

    async def kept(self, store_id: str, customer_ids: Iterable[str], limit: int) -> list[Envelope]:
        """The events kept for these customers, oldest first, at most the `limit` newest of each."""

    async def forget_kept_before(self, before: datetime) -> int:
        """Drop events kept longer than the topic keeps them; returns how many."""

    async def forget_customer(self, store_id: str, customer_id: str) -> int:
        """Erasure: drop every link to or from this customer and every event kept for them or
        for an id linked to them; returns how many rows went."""


class Publisher(Protocol):
    async def publish(self, envelopes: list[Envelope]) -> None:
        """Return only once Kafka acknowledged all of them; raise PublishFailed otherwise."""


class DatabaseUnavailable(ServiceUnavailable):
    """The store did not answer: the request may be retried, so 503 rather than 500."""

    code = "database_unavailable"


class StoreExists(Exception):
    pass


class KeyExists(Exception):
    pass
