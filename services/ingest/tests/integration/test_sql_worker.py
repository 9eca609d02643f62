"""SqlWorker on both backends: concurrent work shares a transaction, yet each caller gets its own answer."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from boomerang.ingest.adapters.repositories import SqlSeenMessages
from boomerang.ingest.adapters.sql_worker import SqlWorker
from boomerang.ingest.migrations import upgrade
from boomerang.shared.db import make_engine

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 12, tzinfo=timezone.utc)


@pytest.fixture
def engine(database_url: str):
    upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(params=[False, True], ids=["on-a-thread", "on-the-loop"])
def worker(engine, request):
    worker = SqlWorker(engine, on_loop=request.param)
    yield worker
    worker.close()


def seen_count(cursor) -> int:
    cursor.execute("SELECT count(*) FROM ingest_seen_messages")
    return cursor.fetchone()[0]


def select(value: int):
    def work(cursor) -> int:
        cursor.execute(f"SELECT {value}")
        return cursor.fetchone()[0]

    return work


async def test_work_queued_in_one_turn_runs_in_one_transaction(worker):
    seen = SqlSeenMessages(worker._engine, worker)
    cursors = []  # the objects, not their ids: a later cursor could reuse an id

    def cursor_of(cursor):
        cursors.append(cursor)

    # Queued in the same turn of the loop: one hand-over, one connection, one commit.
    await asyncio.gather(
        worker.run(cursor_of),
        *(seen.remember("s1", [f"m{n}"], T0) for n in range(20)),
        worker.run(cursor_of),
    )
    assert cursors[0] is cursors[1]
    assert await seen.seen_since("s1", [f"m{n}" for n in range(20)], T0) == {f"m{n}" for n in range(20)}


async def test_one_callers_error_is_its_own(worker):
    seen = SqlSeenMessages(worker._engine, worker)

    def broken(cursor):
        cursor.execute("INSERT INTO ingest_seen_messages (store_id) VALUES ('only-a-store')")

    results = await asyncio.gather(
        seen.remember("s1", ["kept-1"], T0), worker.run(broken), seen.remember("s1", ["kept-2"], T0),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], Exception)
    assert await seen.seen_since("s1", ["kept-1", "kept-2"], T0) == {"kept-1", "kept-2"}
    assert await worker.run(seen_count) == 2  # nothing of the failed group was committed twice


async def test_a_closed_worker_starts_again_when_needed(engine):
    worker = SqlWorker(engine, on_loop=False)
    assert await worker.run(select(1)) == 1
    worker.close()
    assert await worker.run(select(2)) == 2
    worker.close()


async def test_a_worker_whose_thread_went_idle_starts_again(engine):
    worker = SqlWorker(engine, on_loop=False, idle_s=0.01)
    try:
        assert await worker.run(select(1)) == 1
        await asyncio.sleep(0.2)  # the thread stopped for want of work
        assert await worker.run(select(2)) == 2
    finally:
        worker.close()


def test_sqlite_runs_on_the_loop_and_postgresql_on_a_thread(engine):
    assert SqlWorker(engine)._on_loop == (engine.dialect.name == "sqlite")
