"""The service layer's ports on top of faust: the customer table and the output topics."""

from __future__ import annotations

import asyncio
from datetime import datetime

import faust

from boomerang.segmenter.adapters.state_codec import decode_state, encode_state
from boomerang.segmenter.domain import CustomerState
from boomerang.segmenter.service_layer.ports import SourceRecord
from boomerang.shared.events import Envelope


class TableCustomerStates:
    """Reads and writes must happen while a source event is being processed: faust sends
    the changelog record to that event's partition (the table is co-partitioned)."""

    def __init__(self, table: faust.Table) -> None:
        self._table = table

    def get(self, key: str) -> CustomerState | None:
        raw = self._table.get(key.encode())
        return None if raw is None else decode_state(raw)

    def put(self, key: str, state: CustomerState) -> None:
        self._table[key.encode()] = encode_state(state)


class TableDueTimes:
    """`store:customer` -> when their segment next changes with no event (ISO 8601), written with
    the state (same event, same partition); no row: never (a prospect, a lapsed customer)."""

    def __init__(self, table: faust.Table) -> None:
        self._table = table

    def put(self, key: str, due_at: datetime | None) -> None:
        raw = key.encode()
        if due_at is not None:
            self._table[raw] = due_at.isoformat().encode()
        elif raw in self._table:
            del self._table[raw]

    def due(self, now: datetime) -> list[tuple[str, datetime]]:
        """The customers of this worker's partitions due at `now` (a scan of the local table)."""
        out = []
        for raw_key, raw_due in self._table.items():
            at = datetime.fromisoformat(raw_due.decode())
            if at <= now:
                out.append((raw_key.decode(), at))
        return out


class TopicSegmentEvents:
    def __init__(
        self, segments: faust.TopicT, dead_letters: faust.TopicT, scores: faust.TopicT, timeout_s: float = 30.0
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
        sent = await self._dead_letters.send(
            key=record.key, value=record.value, headers=headers, force=True
        )
        await asyncio.wait_for(sent, self._timeout_s)
