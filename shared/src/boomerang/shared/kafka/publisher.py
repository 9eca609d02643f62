"""Publishing events: acks=all and an idempotent producer, so an ack means durably stored once.

What aiokafka 0.13 does when the broker goes away (read from its sender and accumulator):
- A record that `send()` handed to the producer stays in its accumulator until the broker acks
  it. With idempotence on, a failed send is retried with the same producer id and sequence
  until it succeeds, and the broker drops a repeat; only non-retriable errors fail it.
- Except one path: a batch whose partition has no known leader (as while a broker restarts)
  for longer than `request_timeout_ms` is failed with `LeaderNotAvailableError` /
  `NotLeaderForPartitionError` even if an earlier attempt of it reached the broker, so the
  failure does not mean "not written". It has also taken its sequence numbers, so every later
  batch to that partition is refused with `OutOfOrderSequenceNumber`, for good. Both were seen
  in the broker-restart test; this publisher therefore turns that expiry off (the caller's
  timeout already bounds a request) and reports a producer that breaks anyway as `broken`.
- Cancelling `send()` before it returned drops the record; cancelling the future it returned
  does not stop the record from being sent.
So a publish that timed out is not a publish that failed: its records may land later. Callers
that must know (ingest) read `PublishFailed.sent`: every record the producer took, with a future
that resolves once Kafka acked it or fails once the producer gave it up.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)

from boomerang.shared.events import Envelope

_NEVER = 10 * 365 * 24 * 3600.0  # seconds
# Errors after which the producer's id/sequence state no longer matches the broker's.
_FATAL = (OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerEpoch, ProducerFenced)


@dataclass(frozen=True)
class Sent:
    """A record the producer took: `index` in the list given to publish, `ack` its fate."""

    index: int
    ack: asyncio.Future[Any]


class PublishFailed(Exception):
    """Kafka did not acknowledge in time; the caller must not report success.

    `sent` lists the records already handed to the producer: they may still reach Kafka (or
    already have). Records not in it were never handed over and will not be published.
    """

    def __init__(self, message: str, *, sent: tuple[Sent, ...] = ()) -> None:
        super().__init__(message)
        self.sent = sent


class EventPublisher:
    def __init__(self, bootstrap: str, prefix: str = "", *, timeout_s: float = 10.0, **producer_kw) -> None:
        self._prefix = prefix
        self._timeout_s = timeout_s
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=producer_kw.pop("linger_ms", 5),
            request_timeout_ms=int(timeout_s * 1000),
            **producer_kw,
        )
        # No expiry of leaderless batches (see the module doc); aiokafka has no setting for it.
        self._producer._message_accumulator._batch_ttl = _NEVER
        self.started = False
        self._unacked = 0
        self._fatal: BaseException | None = None

    @property
    def in_flight(self) -> int:
        """Records handed to the producer and neither acked nor given up yet."""
        return self._unacked

    @property
    def broken(self) -> bool:
        """This producer will not deliver again (see the module doc): make a new one."""
        if self._fatal is not None:
            return True
        sender = getattr(self._producer, "_sender", None)  # aiokafka's background task
        task = getattr(sender, "sender_task", None)
        return self.started and task is not None and task.done()

    async def start(self) -> None:
        try:
            await self._producer.start()
        except BaseException:
            await self._producer.stop()  # a producer that failed to start cannot be restarted
            raise
        self.started = True

    async def ready(self, timeout_s: float = 2.0) -> bool:
        """Started, and a broker answers a metadata request now (not just cached metadata)."""
        if not self.started:
            return False
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout_s)
        except (KafkaError, asyncio.TimeoutError, OSError):
            return False
        return True

    async def stop(self, *, flush_timeout_s: float | None = None) -> None:
        """Flush and close. aiokafka's own stop waits for every pending record, forever if the
        broker is gone; with `flush_timeout_s`, records still unacked after it are given up
        (their futures fail) so that stopping is bounded."""
        if not self.started:
            await self._producer.stop()  # never started: nothing to flush, but closed (no warning when collected)
            return
        if flush_timeout_s is not None:
            try:
                await asyncio.wait_for(self._producer.flush(), flush_timeout_s)
            except asyncio.TimeoutError:
                await self._give_up_pending(flush_timeout_s)
        await self._producer.stop()
        self.started = False

    async def _give_up_pending(self, timeout_s: float) -> None:
        """aiokafka has no public way to drop what it holds. Stop its sender first (failing
        batches under a running sender makes it re-queue a batch it no longer tracks and
        crash), then fail every batch, as aiokafka itself does when its sender dies."""
        sender = self._producer._sender.sender_task
        if sender is not None and not sender.done():
            sender.cancel()
            await asyncio.wait([sender], timeout=timeout_s)
        self._producer._message_accumulator.fail_all(KafkaError("producer stopped before Kafka acknowledged"))

    async def publish(self, topic: str, envelope: Envelope) -> None:
        await self.publish_many(topic, [envelope])

    async def publish_many(self, topic: str, envelopes: list[Envelope]) -> None:
        """Send all, then wait for every ack; raises PublishFailed if any is not acked in time."""
        records = [(e.key.encode(), e.to_bytes(), []) for e in envelopes]
        await self._send_acked(topic, records)

    async def publish_raw(self, topic: str, key: bytes | None, value: bytes, headers: list) -> None:
        await self._send_acked(topic, [(key, value, headers)])

    async def _send_acked(self, topic: str, records: list[tuple[bytes | None, bytes, list]]) -> None:
        name = f"{self._prefix}{topic}"
        acks: list[asyncio.Future[Any]] = []

        async def send_all() -> None:
            for key, value, headers in records:
                acks.append(self._track(await self._producer.send(name, value, key=key, headers=headers or None)))
            # asyncio.wait, not gather: a timeout must not cancel the acks (see PublishFailed.sent).
            if acks:
                await asyncio.wait(acks)
            for ack in acks:
                ack.result()

        try:
            # Bounded: with Kafka down, send() waits for metadata and must not hang a request.
            await asyncio.wait_for(send_all(), self._timeout_s)
        except (KafkaError, asyncio.TimeoutError) as exc:
            sent = tuple(Sent(index, ack) for index, ack in enumerate(acks))
            raise PublishFailed(f"kafka did not acknowledge: {exc!r}", sent=sent) from exc

    def _track(self, ack: asyncio.Future[Any]) -> asyncio.Future[Any]:
        self._unacked += 1
        ack.add_done_callback(self._settled)
        return ack

    def _settled(self, ack: asyncio.Future[Any]) -> None:
        self._unacked -= 1
        if ack.cancelled():
            return
        error = ack.exception()  # retrieved here, so an ack nobody waits for any more logs no warning
        if isinstance(error, _FATAL):
            self._fatal = error
