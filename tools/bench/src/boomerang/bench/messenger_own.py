"""(g) The messenger's own work per order: no Kafka, no provider SDK, in this process.

The messenger is built as `boomerang-messenger serve` builds it (`bootstrap`, a SQLite store of its
own), except at its two outer edges: the providers answer at once and the outcomes go nowhere. The
contacts, then the orders (the same workload as (a)) go through `Messenger.handle` in batches of
the consumer's size, one task per customer as the consumer runs them. CPU time per order is what
flows, policy, ledger, contacts, recommendations, the order records and rendering cost together;
(c) minus this is what Kafka, the SDK and its worker threads add.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from boomerang.messenger.bootstrap import bootstrap
from boomerang.messenger.domain.flows import Channel
from boomerang.messenger.settings import MessengerSettings
from boomerang.shared.events import Envelope
from boomerang.shared.logs import configure_logging
from boomerang.shared.process import spare_the_startup_objects


class _Answers:
    """A provider that accepts every message at once, and counts them."""

    lookup_lag = timedelta(0)

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent = 0

    async def send(self, message: Any) -> str:
        self.sent += 1
        return "accepted"

    async def find(self, entry: Any, sent_since: Any) -> None:
        return None


class _Nowhere:
    async def publish(self, envelopes: Sequence[Envelope]) -> None:
        return None


def own_work(out: Path, run_id: str, contacts: list[Envelope], orders: list[Envelope]) -> dict[str, Any]:
    configure_logging("bench", "WARNING")  # as the measured processes run: no line per message
    settings = MessengerSettings(database_url=f"sqlite:///{out / f'messenger-{run_id}-g.db'}")
    email = _Answers("sendgrid")
    seconds = asyncio.run(_handled(settings, {Channel.EMAIL: email, Channel.SMS: _Answers("twilio")}, contacts, orders))
    return {
        "orders": len(orders),
        "emails_sent": email.sent,
        "cpu_ms_per_order": round(seconds * 1000 / len(orders), 3),
        "how": "CPU time of this process while `Messenger.handle` (built by `bootstrap` on a SQLite store of its "
               "own) takes (a)'s orders in the consumer's batches, one task per customer; providers that answer at "
               "once and outcomes published nowhere, so neither Kafka nor the SDK is in it",
    }


async def _handled(
    settings: MessengerSettings, providers: dict[Channel, _Answers], contacts: list[Envelope], orders: list[Envelope]
) -> float:
    runtime = bootstrap(settings, providers=providers, outcomes=_Nowhere())
    try:
        await _in_batches(runtime.messenger.handle, contacts, settings.batch_size)
        spare_the_startup_objects()  # as `boomerang-messenger serve` does once it has started
        started = time.process_time()
        await _in_batches(runtime.messenger.handle, orders, settings.batch_size)
        return time.process_time() - started
    finally:
        await runtime.stop()  # never started: closes the Kafka clients it built, the store, the SMS session


async def _in_batches(handle: Callable[[Envelope], Awaitable[None]], envelopes: list[Envelope], size: int) -> None:
    for start in range(0, len(envelopes), size):
        async with asyncio.TaskGroup() as group:
            for envelope in envelopes[start : start + size]:
                group.create_task(handle(envelope))
