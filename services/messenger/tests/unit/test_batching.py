"""Calls made in one turn of the event loop run as one batch."""

from __future__ import annotations

import asyncio

import pytest

from boomerang.messenger.service_layer.batching import Batched


async def test_concurrent_callers_share_one_run_and_each_gets_its_own_result() -> None:
    runs: list[list[int]] = []

    def double(items):
        runs.append(list(items))
        return [2 * item for item in items]

    batched = Batched(double)
    results = await asyncio.gather(*(batched(n) for n in range(5)))

    assert results == [0, 2, 4, 6, 8]
    assert runs == [[0, 1, 2, 3, 4]]


async def test_a_caller_after_the_run_starts_a_new_batch() -> None:
    runs: list[list[str]] = []
    batched = Batched(lambda items: runs.append(list(items)) or list(items))

    assert await batched("a") == "a"
    assert await batched("b") == "b"
    assert runs == [["a"], ["b"]]


async def test_a_run_that_fails_for_every_item_fails_every_caller() -> None:
    def fail(items):
        raise RuntimeError("database is locked")

    batched = Batched(fail)
    results = await asyncio.gather(batched(1), batched(2), return_exceptions=True)

    assert [str(r) for r in results] == ["database is locked", "database is locked"]
    with pytest.raises(RuntimeError):
        await batched(3)


async def test_a_bad_item_fails_only_its_own_caller() -> None:
    runs: list[list[int]] = []

    def reject_negatives(items):
        runs.append(list(items))
        if any(item < 0 for item in items):
            raise ValueError("negative")
        return [item * 10 for item in items]

    batched = Batched(reject_negatives)
    results = await asyncio.gather(batched(1), batched(-1), batched(2), return_exceptions=True)

    assert results[0] == 10 and results[2] == 20
    assert isinstance(results[1], ValueError)
    assert runs == [[1, -1, 2], [1], [-1], [2]]  # the batch, then each alone
