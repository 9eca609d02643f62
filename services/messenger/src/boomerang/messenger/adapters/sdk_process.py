"""A blocking SDK's calls in a child process of their own.

The SendGrid SDK is blocking (urllib), so its calls need threads; in the messenger's process
those threads take the GIL back after every socket call, from an event loop that is busy
composing the next messages, and the hand-overs cost about as much CPU as the SDK itself. In a
child process they wait on the provider side by side without touching the loop. The loop
talks to the child over its stdin and stdout: a frame per call and per answer (a 4-byte length,
then a pickle), read and written by asyncio, with no thread of its own.

If the child dies, every call in flight fails as unanswered (`ProviderError` with no status,
ambiguous: the ledger reconciles it before any retry) and the next call starts a new child. The
child dies with its parent (Linux's parent-death signal, and end of file on its stdin), so a
killed messenger leaves no child finishing sends that the restarted one already reconciled.

Two choices keep the event loop, the messenger's one serial part, busy with messages:
- The child runs SCHED_IDLE (unless not `idle`): it takes the CPU the loop leaves and never
  preempts it.
- Answers that come back while other calls are still out wait up to `answers_linger_s` for
  theirs and are handed over together. What follows a send (the ledger's settle, the outcome's
  publish, the order's records) then runs as one batch (`service_layer.batching`) instead of a
  transaction per answer or two. A call that is the only one out is answered at once.

The child gets only the environment Python and an HTTP client need (paths, locale, proxies, CA
bundles): not the messenger's database URL or signing keys. Nor the variables Kubernetes adds per
service where service links are on (deploy/k8s turns them off): urllib reads the whole
environment for proxy settings on every request, as the SDK builds a new opener per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import pickle
import signal
import struct
import sys
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from boomerang.messenger.service_layer.ports import ProviderError
from boomerang.shared.logs import get_logger

log = get_logger(__name__)
_LENGTH = struct.Struct(">I")
_ENVIRONMENT = frozenset(
    {"PATH", "HOME", "LANG", "TZ", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"}
)
_ENVIRONMENT_PREFIXES = ("LC_", "PYTHON")
_PR_SET_PDEATHSIG = 1
# Measured in `make bench-messenger` (README): with two replicas on 2 cores, 20 ms took a ledger
# claim transaction from 10 claims to 30. A receipt is at the provider when its answer waits:
# only its outcome does.
ANSWERS_LINGER_S = 0.02


class SdkProcess:
    """Runs `calls`' methods in a child process, `threads` at a time. `calls` must pickle:
    it is sent to the child once, which calls its methods by name."""

    def __init__(
        self, calls: Any, threads: int, provider: str, answers_linger_s: float = ANSWERS_LINGER_S, idle: bool = True
    ) -> None:
        self._calls = calls
        self._threads = threads
        self._provider = provider
        self._answers_linger_s = answers_linger_s
        self._idle = idle
        self._child: _Child | None = None
        self._starting = asyncio.Lock()

    @property
    def pid(self) -> int | None:
        """The child's, while it runs."""
        running = self._child is not None and not self._child.exited
        return self._child.pid if running else None

    async def start(self) -> None:
        async with self._starting:
            if self._child is None or self._child.exited:
                self._child = await _Child.start(
                    (self._calls, self._threads, self._idle), self._provider, self._answers_linger_s
                )

    async def call(self, method: str, *args: Any) -> Any:
        if self._child is None or self._child.exited:
            await self.start()
        assert self._child is not None
        return await self._child.call(method, args)

    async def close(self) -> None:
        if self._child is not None:
            await self._child.close()
            self._child = None


class ThreadCalls:
    """`SdkProcess`'s interface over this process's own threads (`in_process`)."""

    pid = None

    def __init__(self, calls: Any, threads: int, provider: str) -> None:
        self._calls = calls
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix=provider)

    async def start(self) -> None:
        return None

    async def call(self, method: str, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, getattr(self._calls, method), *args)

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class _Child(asyncio.SubprocessProtocol):
    def __init__(self, provider: str, answers_linger_s: float = ANSWERS_LINGER_S) -> None:
        self._provider = provider
        self._linger_s = answers_linger_s
        self._transport: asyncio.SubprocessTransport | None = None
        self._stdin: asyncio.WriteTransport | None = None
        self._buffer = bytearray()
        self._pending: dict[int, asyncio.Future] = {}
        self._answers: list[tuple[int, bool, Any]] = []  # read, not handed over yet
        self._handing: asyncio.TimerHandle | None = None
        self._next_id = 0
        self.exited = False
        self.pid: int | None = None
        self._gone = asyncio.get_running_loop().create_future()

    @classmethod
    async def start(cls, setup: tuple[Any, int, bool], provider: str, answers_linger_s: float) -> _Child:
        """`setup`: the calls object, the number of threads, whether to run SCHED_IDLE."""
        loop = asyncio.get_running_loop()
        command = (sys.executable, "-m", __name__)
        transport, child = await loop.subprocess_exec(
            lambda: cls(provider, answers_linger_s), *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=None,  # the child's logs and tracebacks go where ours go
            env=sdk_environment(os.environ),
        )
        child._send(setup)
        log.info("sdk_process_started", provider=provider, pid=child.pid, threads=setup[1], idle=setup[2])
        return child

    async def call(self, method: str, args: tuple) -> Any:
        self._next_id += 1
        answer = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = answer
        self._send((self._next_id, method, args))
        return await answer

    async def close(self) -> None:
        if self._transport is None or self.exited:
            return
        self._stdin.close()  # end of file: the child finishes the calls in hand and exits
        try:
            await asyncio.wait_for(asyncio.shield(self._gone), 5.0)
        except asyncio.TimeoutError:
            self._transport.kill()
        self._transport.close()

    def _send(self, item: Any) -> None:
        body = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        self._stdin.write(_LENGTH.pack(len(body)) + body)

    # asyncio.SubprocessProtocol
    def connection_made(self, transport: asyncio.SubprocessTransport) -> None:
        self._transport = transport
        self.pid = transport.get_pid()
        self._stdin = transport.get_pipe_transport(0)

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self._buffer += data
        self._answers += _frames(self._buffer)
        if len(self._answers) >= len(self._pending):  # no call is still out: nothing to wait for
            self._hand_over_answers()
        elif self._handing is None:
            self._handing = asyncio.get_running_loop().call_later(self._linger_s, self._hand_over_answers)

    def _hand_over_answers(self) -> None:
        if self._handing is not None:
            self._handing.cancel()
            self._handing = None
        answers, self._answers = self._answers, []
        for call_id, ok, value in answers:
            answer = self._pending.pop(call_id, None)
            if answer is None or answer.done():
                continue
            if ok:
                answer.set_result(value)
            else:
                answer.set_exception(value)

    def process_exited(self) -> None:
        self._hand_over_answers()  # those it gave before it went
        self.exited = True
        code = self._transport.get_returncode() if self._transport else None
        if self._pending:
            log.error("sdk_process_died", provider=self._provider, returncode=code, in_flight=len(self._pending))
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(ProviderError(self._provider, None, f"SDK process exited ({code})"))
        self._pending.clear()
        if not self._gone.done():
            self._gone.set_result(code)


def sdk_environment(environment: Mapping[str, str]) -> dict[str, str]:
    return {
        name: value
        for name, value in environment.items()
        if name in _ENVIRONMENT or name.startswith(_ENVIRONMENT_PREFIXES) or name.lower().endswith("_proxy")
    }


def _frames(buffer: bytearray) -> list[Any]:
    """Whole frames off the front of `buffer`, unpickled; a partial frame stays for later."""
    found, start = [], 0
    while len(buffer) - start >= _LENGTH.size:
        (length,) = _LENGTH.unpack_from(buffer, start)
        end = start + _LENGTH.size + length
        if len(buffer) < end:
            break
        found.append(pickle.loads(bytes(buffer[start + _LENGTH.size:end])))
        start = end
    del buffer[:start]
    return found


# --- the child -------------------------------------------------------------------------------


def _die_with_parent() -> None:
    # The signal comes when the thread that started us ends: the event loop's, which lives as
    # long as the messenger does.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before the line above
        os._exit(1)


def _give_way_to_the_event_loop() -> None:
    # The event loop is the messenger's one serial part: every send passes through it, so a
    # core it waits for is throughput lost. SCHED_IDLE (no privilege needed; the pool's threads
    # inherit it) keeps this process from preempting the loop: it takes the CPU the loop leaves.
    # It cannot starve: once its batches in flight are full the loop waits for these answers.
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


def _read_exactly(stream, size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def _read(stream) -> Any:
    header = _read_exactly(stream, _LENGTH.size)
    if header is None:
        return None
    body = _read_exactly(stream, _LENGTH.unpack(header)[0])
    return None if body is None else pickle.loads(body)


def main() -> None:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C reaches the parent, which closes us
    # Answers go out on a private copy of stdout; anything printed goes to stderr instead.
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    calls, threads, idle = _read(requests)
    if idle:
        _give_way_to_the_event_loop()  # before the pool's threads start: they inherit it
    writing = threading.Lock()

    def answer(call_id: int, method: str, args: tuple) -> None:
        try:
            item = (call_id, True, getattr(calls, method)(*args))
        except Exception as error:  # sent back and raised in the parent
            item = (call_id, False, error)
        try:
            body = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # an answer or error that does not pickle: its description does
            body = pickle.dumps((call_id, False, RuntimeError(f"{item[2]!r} ({error})")))
        with writing:
            answers.write(_LENGTH.pack(len(body)) + body)
            answers.flush()

    with ThreadPoolExecutor(threads, thread_name_prefix="sdk") as pool:
        while (request := _read(requests)) is not None:
            pool.submit(answer, *request)
    os._exit(0)  # the pool's calls are done; skip interpreter teardown


if __name__ == "__main__":
    main()
