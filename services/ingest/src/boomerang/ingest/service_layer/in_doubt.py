"""Events in doubt: Kafka did not ack them in time, but the producer may still deliver them.

A publish that times out answers 503, yet its records stay in the producer and, with an
idempotent producer, are re-sent until the broker takes them (see
`boomerang.shared.kafka.publisher`). A client retrying the same messageId would then publish
it twice. So this wrapper of the Publisher port remembers those events as *in doubt*:

- while in doubt, publishing any of them again fails at once (503 and Retry-After upstream);
- when the late ack comes, their ids go into the de-duplication window, so the retry is
  answered as a duplicate (success) and nothing is published twice;
- when the producer finally gives them up, they are released and a retry publishes them.
  Mostly that is the broker refusing them (not written); when the producer is stopped with
  records still unacked (shutdown, or a broken producer retired) it is a guess, and a retry
  may add a second copy.

The settling holds the same per-id claims as `Ingest.deliver`, so a retry sees the events
either in doubt or remembered, never neither. The doubt lives in this process only: a retry
that reaches another replica, or this one after a restart, can still publish a second copy
(consumers de-duplicate on the envelope id for that reason).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

from boomerang.ingest.service_layer.claims import Claims
from boomerang.ingest.service_layer.ports import Publisher, SeenMessages
from boomerang.shared.events import Envelope
from boomerang.shared.kafka import PublishFailed, Sent
from boomerang.shared.logs import get_logger

log = get_logger(__name__)


class InDoubt:
    """The Publisher port, refusing events whose earlier attempt may still land in Kafka."""

    def __init__(
        self, publisher: Publisher, *, seen: SeenMessages, claims: Claims, clock: Callable[[], datetime]
    ) -> None:
        self._publisher = publisher
        self._seen = seen
        self._claims = claims
        self._clock = clock
        self._doubtful: set[tuple[str, str]] = set()  # (store id, envelope id)
        self._settling: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._doubtful)

    async def publish(self, envelopes: list[Envelope]) -> None:
        doubtful = sum((e.store_id, e.id) in self._doubtful for e in envelopes)
        if doubtful:
            raise PublishFailed(f"{doubtful} of these events are not confirmed by Kafka yet")
        try:
            await self._publisher.publish(envelopes)
        except PublishFailed as exc:
            if exc.sent:
                self._follow([(envelopes[s.index], s) for s in exc.sent])
            raise

    async def settle(self, timeout_s: float) -> int:
        """Wait (bounded) for what is still settling, e.g. at shutdown; returns how many events
        stayed in doubt (their fate is unknown: a retry elsewhere may publish them again)."""
        if self._settling:
            _, late = await asyncio.wait(set(self._settling), timeout=timeout_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        left, self._doubtful = len(self._doubtful), set()
        if left:
            log.warning("events_left_in_doubt", events=left)
        return left

    def _follow(self, sent: list[tuple[Envelope, Sent]]) -> None:
        by_store: dict[str, list[tuple[Envelope, Sent]]] = defaultdict(list)
        for envelope, record in sent:
            by_store[envelope.store_id].append((envelope, record))
            self._doubtful.add((envelope.store_id, envelope.id))
        for store_id, records in by_store.items():
            task = asyncio.create_task(self._resolve(store_id, records), name="ingest-in-doubt")
            self._settling.add(task)
            task.add_done_callback(self._settling.discard)
        log.warning("events_in_doubt", events=len(sent), in_doubt=len(self._doubtful))

    async def _resolve(self, store_id: str, records: list[tuple[Envelope, Sent]]) -> None:
        await asyncio.wait([record.ack for _, record in records])
        landed = [e.id for e, record in records if _acked(record)]
        ids = [e.id for e, _ in records]
        async with self._claims.hold(store_id, ids):
            try:
                if landed:
                    await self._seen.remember(store_id, landed, self._clock())
            except Exception as exc:  # noqa: BLE001 - a lost record only risks a second copy
                log.error("dedup_record_failed", store_id=store_id, events=len(landed), error=repr(exc)[:300])
            finally:
                self._doubtful.difference_update((store_id, i) for i in ids)
        log.info("in_doubt_settled", store_id=store_id, landed=len(landed), given_up=len(ids) - len(landed))


def _acked(record: Sent) -> bool:
    return not record.ack.cancelled() and record.ack.exception() is None
