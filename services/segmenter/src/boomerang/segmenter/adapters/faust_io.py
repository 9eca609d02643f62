"""The service layer's ports on top of faust: the customer table and the output topics."""

from __future__ import annotations

import asyncio
import struct
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta, timezone
from typing import TypeVar

import faust
from faust.streams import _current_event

from boomerang.segmenter.adapters.state_codec import decode_state, encode_state
from boomerang.segmenter.domain import CustomerState
from boomerang.segmenter.service_layer.ports import SourceRecord
from boomerang.shared.events import Envelope


# faust reads and writes a table on the partition of the event being processed (the stream's
# `current_event`): the local RocksDB of that partition, and that partition of the changelog.
# A batch from `stream.take_events()` is handled outside the stream's iteration, where there is
# no current event, so the agent names the batch's events (`batch_events`) and every table access
# below runs with the event its key came in as the current one.
_BATCH: ContextVar[Mapping[bytes, faust.EventT] | None] = ContextVar("segmenter_batch_events", default=None)
_T = TypeVar("_T")


@contextmanager
def batch_events(events: Sequence[faust.EventT]) -> Iterator[None]:
    """Table access in this block (this task only) goes to the partition of the batch's message
    with the same key: the tables are co-partitioned with the sources, key for key."""
    token = _BATCH.set({event.key: event for event in events if event.key is not None})
    try:
        yield
    finally:
        _BATCH.reset(token)


def _on_partition_of(raw_key: bytes, access: Callable[[], _T]) -> _T:
    events = _BATCH.get()
    if events is None:  # one event at a time (stream.events()): faust set the current event
        return access()
    event = events.get(raw_key)
    if event is None:
        raise LookupError(f"no message of this batch has the key {raw_key!r}: its partition is unknown")
    token = _current_event.set(weakref.ref(event))
    try:
        return access()
    finally:
        _current_event.reset(token)


class TableCustomerStates:
    """Reads and writes must happen while a source event (or a batch, `batch_events`) is being
    processed: faust sends the changelog record to that event's partition (co-partitioned)."""

    def __init__(self, table: faust.Table) -> None:
        self._table = table

    def get(self, key: str) -> CustomerState | None:
        raw_key = key.encode()
        raw = _on_partition_of(raw_key, lambda: self._table.get(raw_key))
        return None if raw is None else decode_state(raw)

    def put(self, key: str, state: CustomerState) -> None:
        raw_key, raw = key.encode(), encode_state(state)
        _on_partition_of(raw_key, lambda: self._table.__setitem__(raw_key, raw))


# Due times are 8 bytes: microseconds since the epoch, big-endian, so comparing the raw bytes
# compares the times. Rows written before (ISO 8601 text, never 8 bytes long) still read.
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_DUE = struct.Struct(">Q")


def encode_due(at: datetime) -> bytes:
    return _DUE.pack(max((at - _EPOCH) // timedelta(microseconds=1), 0))


def decode_due(raw: bytes) -> datetime:
    if len(raw) == _DUE.size:
        return _EPOCH + timedelta(microseconds=_DUE.unpack(raw)[0])
    return datetime.fromisoformat(raw.decode())


class TableDueTimes:
    """`store:customer` -> when their segment next changes with no event (`encode_due`), written
    with the state (same event, same partition); no row: never (a prospect, a lapsed customer).

    Why a full scan of this table, and not an index by time: a scan compares raw bytes and
    decodes only the rows that are due, about 0.5 s per million customers of a worker's
    partitions here (`make bench-segmenter` measures it), run once per sweep interval (60 s)
    and yielding to the event loop as it goes. An index keyed by time (time|customer) would
    make that O(due) but double every event's table writes and changelog records (delete the
    old time's row, add the new one) on the path that bounds throughput; an in-memory heap
    rebuilt on every partition assignment costs about 100 bytes of Python objects per
    customer and a full scan at each rebalance anyway."""

    def __init__(self, table: faust.Table) -> None:
        self._table = table

    def put(self, key: str, due_at: datetime | None) -> None:
        raw_key = key.encode()
        if due_at is not None:
            raw = encode_due(due_at)
            _on_partition_of(raw_key, lambda: self._table.__setitem__(raw_key, raw))
        else:
            _on_partition_of(raw_key, lambda: self._forget(raw_key))

    def _forget(self, raw_key: bytes) -> None:
        if raw_key in self._table:
            del self._table[raw_key]

    async def due(self, now: datetime, *, pause_every: int = 20_000) -> tuple[list[tuple[str, datetime]], int]:
        """The customers of this worker's partitions due at `now` and how many rows were read
        (a scan of the local table, pausing every `pause_every` rows so events keep flowing)."""
        limit = encode_due(now)
        out = []
        seen = 0
        for seen, (raw_key, raw_due) in enumerate(self._table.items(), 1):
            if len(raw_due) != _DUE.size:
                at = decode_due(raw_due)  # an ISO row from before
                if at <= now:
                    out.append((raw_key.decode(), at))
            elif raw_due <= limit:
                out.append((raw_key.decode(), decode_due(raw_due)))
            if seen % pause_every == 0:
                await asyncio.sleep(0)
        return out, seen


class TopicSegmentEvents:
    """`dead_letters`: the dead-letter topic of each source topic, by the source's name
    (`<topic>.dlq.segmenter`); a source not in it parks in the first one."""

    def __init__(
        self,
        segments: faust.TopicT,
        dead_letters: Mapping[str, faust.TopicT],
        scores: faust.TopicT,
        timeout_s: float = 30.0,
    ) -> None:
        self._segments = segments
        self._scores = scores
        self._dead_letters = dead_letters
        self._timeout_s = timeout_s

    async def publish(self, envelopes: list[Envelope]) -> None:
        await self._send(self._segments, envelopes)

    async def publish_scores(self, envelopes: list[Envelope]) -> None:
        await self._send(self._scores, envelopes)

    async def _send(self, topic: faust.TopicT, envelopes: list[Envelope]) -> None:
        # force=True: send now even if attachments (stream_publish_on_commit) get enabled;
        # the caller needs the ack before it saves the state.
        pending = [await topic.send(key=e.key.encode(), value=e.to_bytes(), force=True) for e in envelopes]
        await asyncio.wait_for(asyncio.gather(*pending), self._timeout_s)

    async def dead_letter(self, record: SourceRecord, reason: str, error: str) -> None:
        headers = [
            ("error", error[:2000].encode()),
            ("reason", reason.encode()),
            ("source_topic", record.topic.encode()),
            ("source_partition", str(record.partition).encode()),
            ("source_offset", str(record.offset).encode()),
        ]
        topic = self._dead_letters.get(record.topic) or next(iter(self._dead_letters.values()))
        sent = await topic.send(
            key=record.key, value=record.value, headers=headers, force=True
        )
        await asyncio.wait_for(sent, self._timeout_s)
