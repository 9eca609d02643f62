"""Load against a running ingest: closed-loop batches for throughput, open-loop singles for latency.

The client shares the machine with ingest and the broker, so it must cost little: requests are
encoded before the clock starts and sent over keep-alive connections by a minimal HTTP/1.1 client
(tens of microseconds a request; httpx spends about a millisecond, which at 500 requests/s would
take half a core from the process being measured).

The open loop sends on a schedule fixed by the clock (request i at t0 + i/rate) and measures from
that planned time, not from when a connection was free: a slow answer then shows up in the
latency of every request queued behind it (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field

TIMEOUT_S = 30.0
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


class HttpFailed(Exception):
    """No HTTP answer: the connection broke or the answer took longer than TIMEOUT_S."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)

    def error_code(self) -> str:
        try:
            return str(self.json()["error"]["code"])
        except (ValueError, KeyError, TypeError):
            return "?"


class Client:
    """POSTs over up to `connections` keep-alive connections to one host; one request per
    connection at a time. Use as `async with Client(...) as http`."""

    def __init__(self, host: str, port: int, headers: dict[str, str], connections: int) -> None:
        self._host, self._port = host, port
        lines = [f"Host: {host}:{port}", *(f"{k}: {v}" for k, v in headers.items())]
        self._headers = ("\r\n".join(lines) + "\r\n").encode()
        self._slots = asyncio.Semaphore(connections)
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()

    def request(self, path: str, body: bytes) -> bytes:
        """The bytes of one POST, to build before the clock starts."""
        return b"POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s" % (
            path.encode(), self._headers, len(body), body
        )

    async def send(self, request: bytes) -> Answer:
        async with self._slots:
            reader, writer = self._idle.pop() if self._idle else await self._open()
            try:
                writer.write(request)
                answer = await asyncio.wait_for(self._read(reader), TIMEOUT_S)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError) as exc:
                writer.close()
                raise HttpFailed(type(exc).__name__) from exc
            except BaseException:  # cancelled mid-request: the connection's state is unknown
                writer.close()
                raise
            self._idle.append((reader, writer))
            return answer

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            return await asyncio.open_connection(self._host, self._port)
        except OSError as exc:
            raise HttpFailed(type(exc).__name__) from exc

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Answer:
        head = await reader.readuntil(b"\r\n\r\n")
        length = _CONTENT_LENGTH.search(head)
        if length is None:
            raise asyncio.IncompleteReadError(head, None)  # ingest always sends a length
        return Answer(int(head[9:12]), await reader.readexactly(int(length[1])))


@dataclass
class BatchRun:
    requests: int = 0
    accepted: int = 0
    deduplicated: int = 0
    rejected: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    first_sent: float = 0.0
    last_ok: float = 0.0

    @property
    def seconds(self) -> float:
        return self.last_ok - self.first_sent


@dataclass
class OpenLoopRun:
    planned: int = 0
    latencies_s: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0  # from the first planned send to the last answer
    late_sends: int = 0  # sends the scheduler started more than 1 ms after their planned time
    # Still unanswered `drain_s` after the last planned send: given up, and counted in the
    # latencies with the time they had waited by then (a lower bound, so percentiles stay honest).
    unanswered: int = 0


async def post_batches(http: Client, requests: list[bytes], concurrency: int) -> BatchRun:
    """`concurrency` senders, each sending the next request as soon as its last one was answered."""
    run = BatchRun()
    pending = iter(requests)

    async def sender() -> None:
        for request in pending:
            sent = time.perf_counter()
            run.first_sent = run.first_sent or sent
            try:
                answer = await http.send(request)
            except HttpFailed as exc:
                _count(run.errors, str(exc))
                continue
            run.requests += 1
            if answer.status != 200:
                _count(run.errors, f"{answer.status} {answer.error_code()}")
                continue
            run.last_ok = time.perf_counter()
            figures = answer.json()
            run.accepted += figures["accepted"]
            run.deduplicated += figures.get("deduplicated", 0)
            run.rejected += len(figures.get("rejected", []))

    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return run


async def open_loop(http: Client, requests: list[bytes], rate: float, drain_s: float = 10.0) -> OpenLoopRun:
    """Send requests[i] at t0 + i/rate whatever happened before; latency from the planned time.
    Requests not answered `drain_s` after the last planned send are given up (see `unanswered`)."""
    run = OpenLoopRun(planned=len(requests))
    last_answer = 0.0

    async def one(request: bytes, planned: float) -> None:
        nonlocal last_answer
        try:
            answer = await http.send(request)
        except HttpFailed as exc:
            _count(run.errors, str(exc))
            return
        done = time.perf_counter()
        last_answer = max(last_answer, done)
        if answer.status == 200:
            run.latencies_s.append(done - planned)
        else:
            _count(run.errors, f"{answer.status} {answer.error_code()}")

    start = time.perf_counter() + 0.05
    tasks = []
    for i, request in enumerate(requests):
        planned = start + i / rate
        delay = planned - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.001:
            run.late_sends += 1
        tasks.append((asyncio.create_task(one(request, planned)), planned))
    deadline = start + len(requests) / rate + drain_s
    _, late = await asyncio.wait([task for task, _ in tasks], timeout=max(0.0, deadline - time.perf_counter()))
    given_up = time.perf_counter()
    for task, planned in tasks:
        if task in late:
            task.cancel()
            run.unanswered += 1
            run.latencies_s.append(given_up - planned)
    await asyncio.gather(*late, return_exceptions=True)
    run.seconds = (last_answer or given_up) - start
    return run


def _count(counts: dict[str, int], what: str) -> None:
    counts[what] = counts.get(what, 0) + 1
