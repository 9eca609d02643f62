"""In-flight message ids, so two identical requests racing each other publish once.

The second request waits for the first; once the first finished (published and recorded, or
failed), the second re-reads the de-duplication table and either counts a duplicate or
publishes itself. Across replicas the same race can publish twice; consumers de-duplicate on
the envelope id (= messageId) anyway, because Kafka is at-least-once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager


class Claims:
    def __init__(self) -> None:
        self._held: dict[tuple[str, str], asyncio.Event] = {}

    @asynccontextmanager
    async def hold(self, store_id: str, message_ids: Iterable[str]) -> AsyncIterator[None]:
        keys = {(store_id, message_id) for message_id in message_ids}
        # All or nothing, and nothing held while waiting: two batches overlapping in
        # opposite order cannot deadlock.
        while busy := [self._held[k] for k in keys if k in self._held]:
            await busy[0].wait()
        released = asyncio.Event()
        for key in keys:
            self._held[key] = released
        try:
            yield
        finally:
            for key in keys:
                del self._held[key]
            released.set()

    def __len__(self) -> int:
        return len(self._held)
