"""Calls made in one turn of the event loop, run as one (one ledger transaction for a batch).

The consumer handles a fetched batch's customers as concurrent tasks; each runs until it awaits
something that really waits. Their ledger claims up to that point are queued here and run
together once they all got there (`call_soon` runs after the tasks already scheduled), so a
batch of receipts costs one claim transaction instead of one per message, and likewise for the
outcomes of provider calls that came back together. A lone caller waits one loop turn, no more.
A batch that fails (its transaction rolled back) runs again item by item, so that one bad item
fails only its own caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Batched(Generic[Item, Result]):
    def __init__(self, run: Callable[[Sequence[Item]], Sequence[Result]]) -> None:
        self._run = run  # one result per item, in order; raising must leave nothing written
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
            _resolve(queue, self._run([item for item, _ in queue]))
        except Exception as exc:  # noqa: BLE001 - its transaction rolled back: nothing of it is written
            if len(queue) == 1:
                _fail(queue, exc)
                return
            for one in queue:  # so that one bad item fails its own caller, not every caller of its batch
                try:
                    _resolve([one], self._run([one[0]]))
                except Exception as alone:  # noqa: BLE001 - the caller gets the error
                    _fail([one], alone)


def _resolve(queue: list[tuple[Any, asyncio.Future]], results: Sequence[Any]) -> None:
    for (_, future), result in zip(queue, results, strict=True):
        if not future.done():  # a caller cancelled meanwhile: its row is written all the same
            future.set_result(result)


def _fail(queue: list[tuple[Any, asyncio.Future]], error: Exception) -> None:
    for _, future in queue:
        if not future.done():
            future.set_exception(error)
