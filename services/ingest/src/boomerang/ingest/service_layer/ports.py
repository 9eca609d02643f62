"""What the use cases need from the outside world; adapters implement these, tests fake them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from boomerang.ingest.domain.stores import Store, WriteKey
from boomerang.shared.errors import ServiceUnavailable
from boomerang.shared.events import Envelope


class StoreRepository(Protocol):
    async def add_store(self, store: Store, first_key: WriteKey) -> None:
        """Add the store with its first key; raises StoreExists if the id is taken."""

    async def get_store(self, store_id: str) -> Store | None: ...

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
