"""The scheduler: sends `delayed` ledger entries when they are due.

Every `interval` it claims due entries in small batches (a compare-and-set in the ledger, so of
several messenger replicas exactly one gets each key), has the messenger decide each again at
the moment it really goes (`Messenger.send_due`: the same policy, the same delivery path) and
publishes the outcomes. A claimed entry is `pending`; if its worker dies, the entry is claimed
again once it has not been touched for `lease`, and the provider is asked first whether the
message reached it (the recipient is written to the ledger before the provider call).

With a `sweep` (the date flows' calendar, `LifecycleTriggers.sweep`), it also runs that every
`sweep_every` seconds (and at start): the birthdays and anniversaries due within the next day
are written as delayed entries, which later rounds send like any other.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from boomerang.messenger import metrics
from boomerang.messenger.service_layer.delivery import Delivery
from boomerang.messenger.service_layer.handlers import Messenger
from boomerang.shared.logs import get_logger

log = get_logger(__name__)


class Scheduler:
    def __init__(
        self,
        messenger: Messenger,
        delivery: Delivery,
        *,
        batch_size: int = 50,
        lease: timedelta = timedelta(minutes=5),
        sweep: Callable[[], Awaitable[int]] | None = None,
        sweep_every: float = 3600.0,
    ) -> None:
        self._messenger = messenger
        self._delivery = delivery
        self._batch_size = batch_size
        self._lease = lease
        self._sweep = sweep
        self._sweep_every = sweep_every
        self._swept_at: float | None = None  # monotonic: when the calendar was last swept

    async def run_once(self) -> int:
        """One batch: claim, decide, send, publish. The number of entries claimed."""
        claimed = self._delivery.claim_due(self._batch_size, self._lease)
        if not claimed:
            return 0
        metrics.SCHEDULER_CLAIMED.inc(len(claimed))
        settled = []
        try:
            for entry in claimed:
                settled.append(await self._messenger.send_due(entry))
        finally:
            # What was settled is published even if a later entry failed; a failed entry stays
            # pending and comes back after the lease.
            await self._delivery.publish(settled)
        return len(claimed)

    async def _sweep_if_due(self) -> None:
        if self._sweep is None:
            return
        if self._swept_at is not None and time.monotonic() - self._swept_at < self._sweep_every:
            return
        await self._sweep()
        self._swept_at = time.monotonic()  # a failed sweep is tried again next round

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        """Batches until nothing is due, then wait `interval` (or until `stop`)."""
        while not stop.is_set():
            try:
                await self._sweep_if_due()
            except Exception as exc:  # the calendar is tried again next round; sends go on
                log.error("date_sweep_failed", error=repr(exc))
            try:
                while await self.run_once() == self._batch_size and not stop.is_set():
                    pass
            except Exception as exc:  # a database or broker hiccup: try again next round
                log.error("scheduler_round_failed", error=repr(exc))
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass
