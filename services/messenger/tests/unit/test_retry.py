"""RetryPolicy.run: one attempt when it works, bounded retries on 429/5xx, none on other errors."""

from __future__ import annotations

import pytest

from boomerang.messenger.service_layer.ports import ProviderError
from boomerang.messenger.service_layer.retry import RetryPolicy

FAST = RetryPolicy(attempts=3, initial_s=0.001, max_s=0.01)


class Script:
    """A provider call that raises the scripted errors, then answers "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0
        self.retried: list[ProviderError] = []

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


async def test_a_call_that_works_is_made_once() -> None:
    call = Script()
    assert await FAST.run(call, call.retried.append) == "ok"
    assert call.calls == 1 and call.retried == []


async def test_retryable_errors_are_retried_each_reported_once() -> None:
    busy, down = ProviderError("sendgrid", 429, "slow down", retry_after=0.0), ProviderError("sendgrid", 503, "down")
    call = Script(busy, down)
    assert await FAST.run(call, call.retried.append) == "ok"
    assert call.calls == 3 and call.retried == [busy, down]


async def test_the_attempts_are_bounded_and_the_last_error_is_raised() -> None:
    errors = [ProviderError("sendgrid", 500, f"error {n}") for n in range(5)]
    call = Script(*errors)
    with pytest.raises(ProviderError) as raised:
        await FAST.run(call, call.retried.append)
    assert call.calls == 3 and raised.value is errors[2] and call.retried == errors[:2]


@pytest.mark.parametrize("error", [ProviderError("twilio", 400, "invalid To"), ValueError("a bug")])
async def test_other_errors_are_not_retried(error: Exception) -> None:
    call = Script(error)
    with pytest.raises(type(error)):
        await FAST.run(call, call.retried.append)
    assert call.calls == 1 and call.retried == []


async def test_one_attempt_means_no_retry() -> None:
    call = Script(ProviderError("sendgrid", 503, "down"))
    with pytest.raises(ProviderError):
        await RetryPolicy(attempts=1).run(call, call.retried.append)
    assert call.calls == 1 and call.retried == []
