"""Calls made in one turn of the event loop, run as one (one ledger transaction for a batch).

The consumer handles a fetched batch's customers as concurrent tasks; each runs until it awaits
something that really waits. Their ledger claims up to that point are queued here and run
together once they all got there (`call_soon` runs after the tasks already scheduled), so a
batch of receipts costs one claim transaction instead of one per message, and likewise for the
outcomes of provider calls that came back together. A lone caller waits one loop turn, no more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Batched(Generic[Item, Result]):
    def __init__(self, run: Callable[[Sequence[Item]], Sequence[Result]]) -> None:
        self._run = run  # one result per item, in order; raising fails the whole batch
        self._queue: list[tuple[Item, asyncio.Future[Result]]] = []

    async def __call__(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._queue.append((item, future))
        if len(self._queue) == 1:
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        queue, self._queue = self._queue, []
        try:
            results = self._run([item for item, _ in queue])
        except Exception as exc:  # noqa: BLE001 - every caller of the batch gets the error
            for _, future in queue:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(queue, results, strict=True):
            if not future.done():  # a caller cancelled meanwhile: its row is written all the same
                future.set_result(result)
