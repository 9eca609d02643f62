"""Provider failures on demand, so clients can rehearse retries and lost outcomes."""

import threading
from collections import deque
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

Provider = Literal["sendgrid", "twilio"]


class FaultRequest(BaseModel):
    provider: Provider
    status: int = Field(ge=400, le=599)
    count: int = Field(default=1, ge=1)
    retry_after: int | None = Field(default=None, ge=0)
    # Accept the message, then answer with the failure: the client loses a send that happened.
    after_accept: bool = False


@dataclass
class Fault:
    status: int
    remaining: int
    retry_after: int | None
    after_accept: bool


class FaultPlan:
    """Per provider, a queue of faults consumed one call at a time, oldest first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Fault]] = {}

    def add(self, request: FaultRequest) -> None:
        fault = Fault(request.status, request.count, request.retry_after, request.after_accept)
        with self._lock:
            self._queues.setdefault(request.provider, deque()).append(fault)

    def take(self, provider: str) -> Fault | None:
        """The fault this call must suffer, if any; each call uses up one."""
        with self._lock:
            queue = self._queues.get(provider)
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining == 0:
                queue.popleft()
            return fault

    def pending(self) -> dict[str, list[dict[str, object]]]:
        with self._lock:
            return {p: [vars(f).copy() for f in q] for p, q in self._queues.items() if q}

    def clear(self, provider: str | None = None) -> None:
        with self._lock:
            if provider is None:
                self._queues.clear()
            else:
                self._queues.pop(provider, None)
