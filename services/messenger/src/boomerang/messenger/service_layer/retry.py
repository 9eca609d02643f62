"""Bounded retries on 429 and 5xx: exponential backoff with jitter, or the provider's Retry-After."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from boomerang.messenger.service_layer.ports import ProviderError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    initial_s: float = 0.5
    max_s: float = 30.0

    def wait(self, state: RetryCallState) -> float:
        backoff = wait_exponential_jitter(initial=self.initial_s, max=self.max_s, jitter=self.initial_s)(
            state
        )
        error = state.outcome.exception() if state.outcome else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is None:
            return backoff
        # The provider said when; a little jitter keeps many workers from coming back at once.
        return min(self.max_s, retry_after + backoff * 0.1)

    async def run(self, call: Callable[[], Awaitable[T]], on_retry: Callable[[ProviderError], None]) -> T:
        """`call` again while it raises a retryable ProviderError; the last error is re-raised."""
        try:
            return await call()  # nearly every send: one attempt, without building a retrier for it
        except ProviderError as error:
            if not error.retryable or self.attempts <= 1:
                raise
            first = [error]

        async def again() -> T:
            # The retrier's first attempt is the one that just failed: it counts, and is waited out.
            if first:
                raise first.pop()
            return await call()

        return await self._retrying(again, on_retry)

    async def _retrying(self, call: Callable[[], Awaitable[T]], on_retry: Callable[[ProviderError], None]) -> T:
        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, ProviderError):
                on_retry(error)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=self.wait,
            retry=retry_if_exception(lambda e: isinstance(e, ProviderError) and e.retryable),
            before_sleep=before_sleep,
            reraise=True,
        )
        return await retrying(call)
