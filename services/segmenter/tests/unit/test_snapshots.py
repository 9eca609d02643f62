"""The snapshot buffer (latest per customer, retried on failure) and what the worker records."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from boomerang.segmenter.domain import CustomerState
from boomerang.segmenter.domain.snapshots import CustomerSnapshot, customer_snapshot, distribution, movement
from boomerang.segmenter.service_layer.snapshots import SnapshotBuffer

AT = datetime(2026, 3, 1, tzinfo=timezone.utc)


class FakeStore:
    def __init__(self) -> None:
        self.writes: list[tuple[list, list]] = []
        self.fail = 0

    def write(self, customers, transitions) -> None:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("database down")
        self.writes.append((list(customers), list(transitions)))


def snap(customer: str, lifecycle: str) -> CustomerSnapshot:
    return CustomerSnapshot("s1", customer, lifecycle, "regular", {}, None, AT, AT)


def test_the_latest_snapshot_per_customer_is_written_in_one_batch():
    store = FakeStore()
    buffer = SnapshotBuffer(store)
    buffer.record(snap("c1", "new"), ["t1"])
    buffer.record(snap("c1", "active"), ["t2"])
    buffer.record(snap("c2", "new"), [])
    assert buffer.flush() and buffer.pending() == 0
    [(customers, transitions)] = store.writes
    assert [(c.customer_id, c.lifecycle) for c in customers] == [("c1", "active"), ("c2", "new")]
    assert transitions == ["t1", "t2"]
    assert buffer.flush() and len(store.writes) == 1  # nothing new: no write


def test_a_failed_flush_keeps_everything_and_newer_snapshots_win():
    store = FakeStore()
    store.fail = 1
    buffer = SnapshotBuffer(store)
    buffer.record(snap("c1", "new"), ["t1"])
    assert not buffer.flush()
    buffer.record(snap("c1", "active"), ["t2"])
    assert buffer.flush()
    [(customers, transitions)] = store.writes
    assert [c.lifecycle for c in customers] == ["active"] and transitions == ["t1", "t2"]


def test_the_thread_flushes_and_stop_flushes_the_rest():
    store = FakeStore()
    buffer = SnapshotBuffer(store, interval_s=60)
    buffer.start()
    buffer.record(snap("c1", "new"), [])
    buffer.stop()
    assert [c.customer_id for c in store.writes[0][0]] == ["c1"]


def test_a_full_buffer_drops_instead_of_growing():
    buffer = SnapshotBuffer(FakeStore(), max_pending=2)
    for n in range(5):
        buffer.record(snap(f"c{n}", "new"), [])
    assert buffer.pending() == 2


def test_customer_snapshot_profile():
    state = CustomerState("s1", "c1", orders=2, net_revenue=Decimal("55.5"), categories={"mugs": 3, "tea": 5},
                          segments={"lifecycle": "active"}, evaluated_at=AT)
    s = customer_snapshot(state, None, AT)
    assert (s.lifecycle, s.value_tier, s.scores) == ("active", "regular", None)
    assert s.profile["net_revenue"] == "55.5" and s.profile["average_order_value"] == "27.75"
    assert s.profile["top_categories"] == {"tea": 5, "mugs": 3}


def test_movement_and_distribution():
    assert movement([(None, "new"), ("new", "active")]).as_dict() == {
        "active": {"entered": 1, "left": 0, "net": 1},
        "new": {"entered": 1, "left": 1, "net": 0},
    }
    d = distribution([1.0, 2.0, 3.0, None, float("nan")], bins=2)
    assert (d["count"], d["mean"], d["quantiles"]["p50"]) == (3, 2.0, 2.0)
    assert [h["count"] for h in d["histogram"]] == [1, 2]
    assert distribution([])["count"] == 0
