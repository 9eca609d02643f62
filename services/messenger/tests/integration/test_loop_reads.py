"""Reads on the event loop share one connection per turn (adapters.sql.LoopReads), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest
from sqlalchemy import create_engine, text

from boomerang.messenger.adapters.sql import loop_reads

pytestmark = pytest.mark.integration


def _read(reads) -> object:
    with reads.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
        return conn


def test_a_turns_reads_share_one_connection_given_back_when_the_loop_comes_round(engine) -> None:
    reads = loop_reads(engine)
    assert loop_reads(engine) is reads  # every adapter on the engine shares it

    async def two_turns() -> tuple[list[object], int, int]:
        first = [_read(reads), _read(reads)]
        held = engine.pool.checkedout()
        await asyncio.sleep(0)  # the loop comes round
        returned = engine.pool.checkedout()
        return [*first, _read(reads)], held, returned

    (a, b, c), held, returned = asyncio.run(two_turns())

    assert a is b and c is not a
    assert (held, returned) == (1, 0)
    assert engine.pool.checkedout() == 0  # the last turn's too, as the loop closed


def test_without_a_running_loop_each_read_has_its_own_connection(engine) -> None:
    reads = loop_reads(engine)

    assert _read(reads) is not _read(reads)
    assert engine.pool.checkedout() == 0


def test_a_failed_read_gives_the_connection_back_at_once(engine) -> None:
    reads = loop_reads(engine)

    async def fails_then_reads() -> tuple[int, object, object]:
        first = _read(reads)
        with pytest.raises(Exception, match="no_such_table"):
            with reads.connect() as conn:
                conn.execute(text("SELECT * FROM no_such_table"))
        after_failure = engine.pool.checkedout()
        return after_failure, first, _read(reads)  # a fresh connection, not a failed transaction

    after_failure, first, second = asyncio.run(fails_then_reads())

    assert after_failure == 0 and second is not first


def test_a_connection_left_by_a_loop_gone_mid_turn_is_given_back_by_the_next_loop(engine) -> None:
    reads = loop_reads(engine)
    gone = asyncio.new_event_loop()

    async def read_as_the_loop_stops() -> object:
        gone.stop()  # after this turn: the give-back it schedules never runs
        return _read(reads)

    stale = gone.run_until_complete(read_as_the_loop_stops())
    gone.close()
    assert engine.pool.checkedout() == 1

    fresh = asyncio.run(_async_read(reads))

    assert fresh is not stale and engine.pool.checkedout() == 0


async def _async_read(reads) -> object:
    return _read(reads)


def test_an_engine_nothing_else_holds_is_freed_with_its_reads(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'gone.db'}")
    asyncio.run(_async_read(loop_reads(engine)))
    gone = weakref.ref(engine)
    del engine
    gc.collect()

    assert gone() is None  # its pool and connections go with it
