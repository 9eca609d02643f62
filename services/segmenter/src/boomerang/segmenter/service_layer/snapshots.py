"""Feeding the snapshot store from the stream without slowing it down.

The agent calls `SnapshotBuffer.record` after each save: it only puts the customer's snapshot
(the latest per customer wins) and the transitions in memory, under a lock. A thread flushes
the buffer to the store every `interval_s` in one transaction, off the event loop. A failed
flush keeps what it held (newer snapshots of the same customer replace theirs) and is retried
next round; the buffer is bounded, and what is dropped past the bound is counted and logged.

The store is a read model, not the source of truth: it can lag by about `interval_s`, and a
crash loses at most the unflushed buffer, which the customer's next event or sweep rewrites
(transitions are re-published, and so re-recorded, only on a redelivery). Transitions are keyed
by their envelope id, so re-recording one changes nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

from boomerang.segmenter import metrics
from boomerang.segmenter.domain.snapshots import CustomerSnapshot, TransitionRecord
from boomerang.shared.logs import get_logger

log = get_logger(__name__)


class SnapshotStore(Protocol):
    def write(self, customers: Sequence[CustomerSnapshot], transitions: Sequence[TransitionRecord]) -> None: ...


class Snapshots(Protocol):
    """What the segmentation use case records into; must not block."""

    def record(self, snapshot: CustomerSnapshot, transitions: Sequence[TransitionRecord]) -> None: ...


class SnapshotBuffer:
    def __init__(self, store: SnapshotStore, interval_s: float = 1.0, max_pending: int = 200_000) -> None:
        self._store = store
        self._interval_s = interval_s
        self._max_pending = max_pending
        self._lock = threading.Lock()
        self._customers: dict[tuple[str, str], CustomerSnapshot] = {}
        self._transitions: list[TransitionRecord] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record(self, snapshot: CustomerSnapshot, transitions: Sequence[TransitionRecord]) -> None:
        with self._lock:
            if len(self._customers) + len(self._transitions) >= self._max_pending:
                metrics.SNAPSHOTS_DROPPED.inc()
                return
            self._customers[snapshot.store_id, snapshot.customer_id] = snapshot
            self._transitions.extend(transitions)

    def pending(self) -> int:
        with self._lock:
            return len(self._customers) + len(self._transitions)

    def flush(self) -> bool:
        """Write what is buffered; False (and everything kept for the next round) on failure."""
        with self._lock:
            customers, transitions = self._customers, self._transitions
            self._customers, self._transitions = {}, []
        if not customers and not transitions:
            return True
        try:
            self._store.write(list(customers.values()), transitions)
        except Exception:  # noqa: BLE001 - the store may be down; keep the rows and retry
            metrics.SNAPSHOT_FLUSH_FAILURES.inc()
            log.exception("snapshot_flush_failed", customers=len(customers), transitions=len(transitions))
            with self._lock:
                self._customers = {**customers, **self._customers}
                self._transitions = [*transitions, *self._transitions]
            return False
        metrics.SNAPSHOTS_WRITTEN.inc(len(customers))
        return True

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="snapshot-flusher", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the thread and flush what is left (once)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.flush()
