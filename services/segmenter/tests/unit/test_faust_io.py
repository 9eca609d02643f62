"""The faust adapters' own logic: due times as sortable bytes, and table access routed to the
partition of the batch's message with the same key (faust reads `current_event` for that)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from faust.streams import current_event

from boomerang.segmenter.adapters.faust_io import (
    TableCustomerStates,
    TableDueTimes,
    batch_events,
    decode_due,
    encode_due,
)
from boomerang.segmenter.domain import CustomerState

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


class Event(SimpleNamespace):
    """What faust's table code reads of an event: key, message.partition (weak-referenceable)."""

    def __init__(self, key: bytes, partition: int) -> None:
        super().__init__(key=key, message=SimpleNamespace(partition=partition, topic="t"))


class PartitionedTable(dict):
    """Records the partition faust would use for each write: that of the current event."""

    def __init__(self) -> None:
        super().__init__()
        self.partitions: dict[bytes, int] = {}

    def __setitem__(self, key, value) -> None:
        event = current_event()
        assert event is not None, "written outside any event: faust would refuse"
        self.partitions[key] = event.message.partition
        super().__setitem__(key, value)


def test_due_times_sort_as_bytes_and_round_trip():
    times = [T0 - timedelta(days=400), T0, T0 + timedelta(microseconds=1), T0 + timedelta(days=9000)]
    encoded = [encode_due(t) for t in times]
    assert sorted(encoded) == encoded and len(set(map(len, encoded))) == 1
    assert [decode_due(raw) for raw in encoded] == times


def test_due_rows_written_as_iso_text_still_read():
    assert decode_due(T0.isoformat().encode()) == T0


def test_each_write_of_a_batch_goes_to_the_partition_of_its_keys_message():
    states, due = PartitionedTable(), PartitionedTable()
    events = [Event(b"s:a", 1), Event(b"s:b", 4)]
    with batch_events(events):
        TableCustomerStates(states).put("s:b", CustomerState("s", "b"))
        TableCustomerStates(states).put("s:a", CustomerState("s", "a"))
        TableDueTimes(due).put("s:a", T0)
    assert states.partitions == {b"s:b": 4, b"s:a": 1} and due.partitions == {b"s:a": 1}
    assert current_event() is None  # nothing left behind for the next batch


def test_a_key_with_no_message_in_the_batch_is_refused():
    with batch_events([Event(b"s:a", 1)]), pytest.raises(LookupError):
        TableCustomerStates(PartitionedTable()).put("s:z", CustomerState("s", "z"))


def test_the_sweep_scan_finds_the_due_rows_old_and_new():
    table = PartitionedTable()
    with batch_events([Event(b"s:a", 0), Event(b"s:b", 0), Event(b"s:c", 0)]):
        due = TableDueTimes(table)
        due.put("s:a", T0 - timedelta(days=1))
        due.put("s:b", T0 + timedelta(seconds=1))
        due.put("s:c", T0)
        due.put("s:b", None)  # not due any more: the row goes
    dict.__setitem__(table, b"s:old", (T0 - timedelta(hours=1)).isoformat().encode())
    found, scanned = asyncio.run(due.due(T0, pause_every=1))
    assert sorted(found) == [("s:a", T0 - timedelta(days=1)), ("s:c", T0), ("s:old", T0 - timedelta(hours=1))]
    assert scanned == 3
