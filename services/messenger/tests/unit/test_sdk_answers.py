"""How the SDK process's answers reach their callers (adapters.sdk_process), without a process:
the protocol is fed its child's stdout frames by hand."""

from __future__ import annotations

import asyncio
import pickle

import pytest

from boomerang.messenger.adapters.sdk_process import _LENGTH, _Child
from boomerang.messenger.service_layer.ports import ProviderError


class FakePipe:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)


class FakeSubprocess:
    def __init__(self) -> None:
        self.stdin = FakePipe()

    def get_pid(self) -> int:
        return 4242

    def get_pipe_transport(self, fd: int) -> FakePipe:
        return self.stdin

    def get_returncode(self) -> int:
        return -9


def answer(call_id: int, value: str) -> bytes:
    body = pickle.dumps((call_id, True, value))
    return _LENGTH.pack(len(body)) + body


async def calls_out(linger_s: float, count: int) -> tuple[_Child, list[asyncio.Future]]:
    child = _Child("sendgrid", answers_linger_s=linger_s)
    child.connection_made(FakeSubprocess())  # type: ignore[arg-type]
    futures = [asyncio.ensure_future(child.call("send", (f"m-{n}",))) for n in range(count)]
    await asyncio.sleep(0)  # each call is written to the child
    return child, futures


async def test_a_lone_call_is_answered_at_once() -> None:
    child, [call] = await calls_out(linger_s=3600, count=1)
    child.pipe_data_received(1, answer(1, "x-1"))
    assert await asyncio.wait_for(call, 5) == "x-1"  # not an hour later: no other call is out


async def test_answers_wait_for_the_calls_still_out_and_reach_their_callers_together() -> None:
    child, calls = await calls_out(linger_s=3600, count=3)
    child.pipe_data_received(1, answer(2, "x-2"))
    frame = answer(1, "x-1")
    child.pipe_data_received(1, frame[:7])  # a frame may come in pieces
    for _ in range(3):
        await asyncio.sleep(0)
    assert not any(call.done() for call in calls)
    child.pipe_data_received(1, frame[7:] + answer(3, "x-3"))
    assert await asyncio.wait_for(asyncio.gather(*calls), 5) == ["x-1", "x-2", "x-3"]


async def test_an_answer_waits_for_the_others_no_longer_than_the_linger() -> None:
    child, calls = await calls_out(linger_s=0.01, count=3)
    child.pipe_data_received(1, answer(1, "x-1"))
    assert await asyncio.wait_for(calls[0], 5) == "x-1"
    assert not calls[1].done() and not calls[2].done()


async def test_answers_read_before_the_process_exits_count_and_the_calls_still_out_fail() -> None:
    child, calls = await calls_out(linger_s=3600, count=2)
    child.pipe_data_received(1, answer(1, "x-1"))
    child.process_exited()
    assert await calls[0] == "x-1"
    with pytest.raises(ProviderError, match="SDK process exited"):
        await calls[1]
