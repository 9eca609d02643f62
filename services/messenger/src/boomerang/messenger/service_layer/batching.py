"""Calls made in one turn of the event loop, run as one (one ledger transaction for a batch).

The consumer handles a fetched batch's customers as concurrent tasks; each runs until it awaits
something that really waits. Their ledger claims up to that point are queued here and run
together once they all got there (`call_soon` runs after the tasks already scheduled), so a
batch of receipts costs one claim transaction instead of one per message, and likewise for the
outcomes of provider calls that came back together. A lone caller waits one loop turn, no more.
A batch that fails (its transaction rolled back) runs again item by item, so that one bad item
fails only its own caller. `AsyncBatched` does the same for a run that waits (a Kafka publish):
every caller of the run gets its outcome, for nothing in such a run is one item's fault.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class _OneTurn(Generic[Item, Result]):
    """The items of callers in one turn of the loop, handed to `_flush` together."""

    def __init__(self) -> None:
        self._queue: list[tuple[Item, asyncio.Future[Result]]] = []

    async def __call__(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._queue.append((item, future))
        if len(self._queue) == 1:
            loop.call_soon(self._take_queue)  # after the tasks already scheduled this turn
        return await future

    def _take_queue(self) -> None:
        queue, self._queue = self._queue, []
        self._flush(queue)

    def _flush(self, queue: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        raise NotImplementedError


class Batched(_OneTurn[Item, Result]):
    def __init__(self, run: Callable[[Sequence[Item]], Sequence[Result]]) -> None:
        super().__init__()
        self._run = run  # one result per item, in order; raising must leave nothing written

    def _flush(self, queue: list[tuple[Item, asyncio.Future[Result]]]) -> None:
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


class AsyncBatched(_OneTurn[Item, None]):
    """A turn's items to one awaited `run`; each caller returns when it has, or fails with it."""

    def __init__(self, run: Callable[[list[Item]], Awaitable[None]]) -> None:
        super().__init__()
        self._run = run
        self._running: set[asyncio.Future[None]] = set()  # asyncio keeps only weak references

    def _flush(self, queue: list[tuple[Item, asyncio.Future[None]]]) -> None:
        running = asyncio.ensure_future(self._run([item for item, _ in queue]))
        self._running.add(running)
        running.add_done_callback(self._running.discard)
        running.add_done_callback(lambda done: _settle(done, queue))


def _settle(run: asyncio.Future[None], queue: list[tuple[Any, asyncio.Future[None]]]) -> None:
    for _, future in queue:
        if future.done():  # its caller was cancelled meanwhile; its item ran all the same
            continue
        if run.cancelled():
            future.cancel()
        elif run.exception() is not None:
            future.set_exception(run.exception())  # type: ignore[arg-type]
        else:
            future.set_result(None)


def _resolve(queue: list[tuple[Any, asyncio.Future]], results: Sequence[Any]) -> None:
    for (_, future), result in zip(queue, results, strict=True):
        if not future.done():  # a caller cancelled meanwhile: its row is written all the same
            future.set_result(result)


def _fail(queue: list[tuple[Any, asyncio.Future]], error: Exception) -> None:
    for _, future in queue:
        if not future.done():
            future.set_exception(error)
