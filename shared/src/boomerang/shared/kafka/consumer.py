"""At-least-once consumption: offsets are committed only after the handler finished.

With `by_key=True` a fetched batch is handled as one: records of different keys concurrently
(so a handler's waits, such as a provider call, overlap), records of one key in their order,
and every partition's offset committed once the whole batch is done. Up to `batches_in_flight`
batches are handled at once, so the next batch's work overlaps the last one's waits; a key's
records still wait for that key's records of earlier batches, and batches are committed in
the order they were fetched.

A message that cannot be parsed, or whose handler keeps failing, goes to the
consumer's dead-letter topic with the error in its headers; it is never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError
from pydantic import ValidationError

from boomerang.shared.events import Envelope, UnknownEventType
from boomerang.shared.kafka.publisher import EventPublisher
from boomerang.shared.kafka.topics import TopicSpec, dead_letter_topic, ensure_topics
from boomerang.shared.logs import get_logger

Handler = Callable[[Envelope], Awaitable[None]]
log = get_logger(__name__)


class EarlierRecordFailed(Exception):
    """A key's record in an earlier batch failed, so its later records wait for a redelivery."""


class EventConsumer:
    def __init__(
        self,
        *,
        bootstrap: str,
        prefix: str,
        topics: list[TopicSpec],
        group_id: str,
        handler: Handler,
        dead_letters: EventPublisher,
        attempts: int = 3,
        retry_delay_s: float = 0.5,
        by_key: bool = False,
        max_records: int = 200,
        batches_in_flight: int = 1,
        observe: Callable[[ConsumerRecord, Envelope], None] | None = None,
        unread: Callable[[set[tuple[str, int]]], None] | None = None,
    ) -> None:
        """`observe` sees each record's envelope (and where it came from) before the handler
        does, and `unread` after each fetch which (topic, partition)s still have records to
        handle: an event-time clock keeps its low watermark with them."""
        self._specs = {spec.named(prefix): spec for spec in topics}
        self._bootstrap = bootstrap
        self._prefix = prefix
        self._group_id = group_id
        self._handler = handler
        self._dead_letters = dead_letters
        self._attempts = attempts
        self._retry_delay_s = retry_delay_s
        self._by_key = by_key
        self._max_records = max_records
        self._batches_in_flight = max(1, batches_in_flight)
        # by_key: the batches being handled, oldest first, and each key's latest task.
        self._in_flight: deque[tuple[asyncio.Task, dict[TopicPartition, int]]] = deque()
        self._last_of_key: dict[bytes | None, asyncio.Task] = {}
        self._running = False
        self._ran = asyncio.Event()
        self._observe = observe
        self._unread = unread
        self._consumer = AIOKafkaConsumer(
            *self._specs,
            bootstrap_servers=bootstrap,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        self._stopping = asyncio.Event()

    @property
    def assigned(self) -> bool:
        return bool(self._consumer.assignment())

    async def start(self) -> None:
        dead_letter_specs = tuple(dead_letter_topic(s, self._group_id) for s in self._specs.values())
        await ensure_topics(self._bootstrap, self._prefix, dead_letter_specs)
        await self._consumer.start()

    async def stop(self, grace_s: float = 10.0) -> None:
        """`run` finishes the batches in hand and commits them (for up to `grace_s`) before the
        consumer leaves its group."""
        self._stopping.set()
        if self._running:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._ran.wait(), grace_s)
        await self._consumer.stop()

    async def run(self) -> None:
        self._running = True
        try:
            while not self._stopping.is_set():
                batches = await self._fetch()
                if self._unread is not None:
                    self._unread(await self._still_to_handle(batches))
                if self._by_key:
                    await self._handle_batch(batches)
                    continue
                for tp, records in batches.items():
                    for record in records:
                        await self._process(record)
                    await self._commit({tp: records[-1].offset + 1})
            await self._commit_done(keep=0)
        finally:
            await self._finish_in_flight()
            self._ran.set()

    async def _fetch(self) -> dict[TopicPartition, list[ConsumerRecord]]:
        """The next records, or none at once when `stop` is called meanwhile."""
        fetching = asyncio.ensure_future(self._consumer.getmany(timeout_ms=500, max_records=self._max_records))
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({fetching, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if fetching.done():
            return fetching.result()
        fetching.cancel()  # nothing of it was handled, so nothing is committed: it comes again
        return {}

    async def _handle_batch(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        if batches:
            records = [r for records in batches.values() for r in records]
            offsets = {tp: records[-1].offset + 1 for tp, records in batches.items()}
            self._in_flight.append((asyncio.create_task(self._process_by_key(records)), offsets))
        await self._commit_done(keep=self._batches_in_flight - 1)

    async def _commit_done(self, keep: int) -> None:
        """Commits the batches that are done, in fetch order, waiting for the oldest while more
        than `keep` are in hand."""
        while self._in_flight and (len(self._in_flight) > keep or self._in_flight[0][0].done()):
            task, offsets = self._in_flight.popleft()
            await task  # a failed batch raises: nothing after it is committed, it all comes again
            await self._commit(offsets)

    async def _finish_in_flight(self) -> None:
        """After a failed batch: let the others finish; they are not committed, so they come
        again."""
        while self._in_flight:
            task, _ = self._in_flight.popleft()
            if not task.done():
                await asyncio.wait([task])
            if not task.cancelled() and task.exception() is not None:
                log.warning("batch_failed", error=repr(task.exception()))

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        try:
            await self._consumer.commit(offsets)
        except CommitFailedError as exc:
            # The group rebalanced while the batch was handled: its partitions may be another
            # member's now, which reads them again from the last commit (handlers deduplicate).
            log.warning("commit_failed_rebalanced", error=str(exc)[:300])

    async def _still_to_handle(self, batches: dict) -> set[tuple[str, int]]:
        """The partitions of this batch and of those in flight, and those the broker holds
        more records of."""
        found = {(tp.topic, tp.partition) for tp, records in batches.items() if records}
        found |= {(tp.topic, tp.partition) for _, offsets in self._in_flight for tp in offsets}
        for tp in self._consumer.assignment():
            high = self._consumer.highwater(tp)
            if high is None or await self._consumer.position(tp) < high:
                found.add((tp.topic, tp.partition))
        return found

    async def _process_by_key(self, records: list[ConsumerRecord]) -> None:
        """One task per key, each taking its records in offset order. A task that fails cancels
        the others (TaskGroup) and nothing is committed: the batch comes again."""
        # Every topic is keyed store:customer: a customer's events of all topics share one task.
        by_key: dict[bytes | None, list[ConsumerRecord]] = {}
        for record in records:
            by_key.setdefault(record.key, []).append(record)

        async def in_order(key: bytes | None, same_key: list[ConsumerRecord], earlier: asyncio.Task | None) -> None:
            if earlier is not None:
                await asyncio.wait([earlier])
                if earlier.cancelled() or earlier.exception() is not None:
                    raise EarlierRecordFailed(key)  # this batch comes again too, in order
            for record in same_key:
                await self._process(record)

        async with asyncio.TaskGroup() as group:
            for key, same_key in by_key.items():
                task = group.create_task(in_order(key, same_key, self._last_of_key.get(key)))
                self._last_of_key[key] = task
                task.add_done_callback(lambda done, key=key: self._forget(key, done))

    def _forget(self, key: bytes | None, task: asyncio.Task) -> None:
        if self._last_of_key.get(key) is task:
            del self._last_of_key[key]

    async def _process(self, record: ConsumerRecord) -> None:
        try:
            envelope = Envelope.from_bytes(record.value)
        except (ValidationError, ValueError) as exc:
            await self._dead_letter(record, f"unparseable envelope: {exc}")
            return
        if self._observe is not None:
            self._observe(record, envelope)
        for attempt in range(1, self._attempts + 1):
            try:
                await self._handler(envelope)
                return
            except (ValidationError, UnknownEventType) as exc:
                await self._dead_letter(record, f"invalid event: {exc}")
                return
            except Exception as exc:  # noqa: BLE001 - any handler failure is retried, then dead-lettered
                log.warning("handler_failed", event_id=envelope.id, attempt=attempt, error=repr(exc))
                if attempt == self._attempts:
                    await self._dead_letter(record, f"handler failed {attempt} times: {exc!r}")
                    return
                await asyncio.sleep(self._retry_delay_s * 2 ** (attempt - 1))

    async def _dead_letter(self, record: ConsumerRecord, error: str) -> None:
        spec = self._specs[record.topic]
        dlq = dead_letter_topic(spec, self._group_id)
        headers = [
            ("error", error[:2000].encode()),
            ("source_topic", record.topic.encode()),
            ("source_partition", str(record.partition).encode()),
            ("source_offset", str(record.offset).encode()),
        ]
        log.error("dead_lettered", topic=record.topic, offset=record.offset, error=error[:300])
        await self._dead_letters.publish_raw(dlq.name, record.key, record.value, headers)


__all__ = ["EventConsumer", "Handler"]
