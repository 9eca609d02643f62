"""Per-store token buckets: the arithmetic, then the limiter over a store repository."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boomerang.ingest.domain.mapping import Rules
from boomerang.ingest.domain.rate_limit import Bucket, Limit, full, limit_for, retry_after_s, take
from boomerang.ingest.domain.stores import Store, WriteKey
from boomerang.ingest.service_layer.ingest import Ingest
from boomerang.ingest.service_layer.rate_limit import RateLimited, RateLimiter

from .fakes import FakePublisher, FakeSeen, FakeStores

LIMIT = Limit(per_s=100, burst=250)


def test_a_full_bucket_lets_a_whole_burst_through_then_refuses():
    bucket, wait = take(full(LIMIT, 0.0), LIMIT, 250, now=0.0)
    assert (bucket.tokens, wait) == (0, 0.0)
    refused, wait = take(bucket, LIMIT, 1, now=0.0)
    assert (refused.tokens, wait) == (0, pytest.approx(0.01))


def test_tokens_come_back_at_the_rate_and_no_further_than_the_burst():
    empty = Bucket(tokens=0, at=10.0)
    assert take(empty, LIMIT, 50, now=10.5) == (Bucket(0, 10.5), 0.0)  # 0.5 s x 100/s = 50
    assert take(empty, LIMIT, 251, now=100.0)[0].tokens == -1  # capped at 250, then in debt


def test_a_refused_request_spends_nothing_and_learns_how_long_to_wait():
    bucket = Bucket(tokens=20, at=0.0)
    after, wait = take(bucket, LIMIT, 50, now=0.0)
    assert (after.tokens, wait) == (20, pytest.approx(0.3))
    assert take(after, LIMIT, 50, now=0.3)[1] == 0.0


def test_a_request_larger_than_the_bucket_waits_for_a_full_bucket_and_leaves_a_debt():
    small = Limit(per_s=10, burst=20)
    bucket, wait = take(Bucket(tokens=5, at=0.0), small, 100, now=0.0)
    assert wait == pytest.approx(1.5)  # until the bucket is full (20), not until 100 tokens
    bucket, wait = take(bucket, small, 100, now=1.5)
    assert (bucket.tokens, wait) == (pytest.approx(-80), 0.0)
    assert take(bucket, small, 1, now=1.5)[1] == pytest.approx(8.1)  # the debt is paid first


def test_a_clock_going_backwards_adds_no_tokens():
    assert take(Bucket(tokens=0, at=5.0), LIMIT, 1, now=4.0)[0].tokens == 0


@given(
    costs=st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=40),
    gaps=st.lists(st.floats(min_value=0, max_value=3), min_size=40, max_size=40),
)
def test_over_any_run_no_more_than_burst_plus_rate_times_time_gets_through(costs, gaps):
    bucket, now, through = full(LIMIT, 0.0), 0.0, 0
    for cost, gap in zip(costs, gaps):
        now += gap
        bucket, wait = take(bucket, LIMIT, cost, now)
        if not wait:
            through += cost
    # A request bigger than the burst may leave a debt, never a surplus beyond its own size.
    assert through <= LIMIT.burst + LIMIT.per_s * now + max(0, max(costs) - LIMIT.burst) + 1e-6


def test_retry_after_is_whole_seconds_rounded_up_never_zero():
    assert [retry_after_s(w) for w in (0.001, 1.0, 1.2, 2.99)] == [1, 1, 2, 3]


def test_a_store_without_its_own_rate_gets_the_default_and_a_bucket_of_at_least_a_second():
    assert limit_for(None, default_per_s=1000, burst=2500) == Limit(1000, 2500)
    assert limit_for(5000, default_per_s=1000, burst=2500) == Limit(5000, 5000)
    assert limit_for(0, default_per_s=1000, burst=2500) == Limit(1000, 2500)
    with pytest.raises(ValueError):
        Limit(per_s=0, burst=1)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingStores(FakeStores):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get_store(self, store_id: str) -> Store | None:
        self.reads += 1
        return await super().get_store(store_id)


async def store_with(stores: FakeStores, store_id: str, rate: float | None) -> None:
    at = datetime(2025, 1, 1, tzinfo=timezone.utc)
    key = WriteKey(id=f"k-{store_id}", store_id=store_id, key_hash=f"h-{store_id}", prefix="wk_", created_at=at)
    await stores.add_store(Store(store_id, store_id, at, rate_limit_per_s=rate), key)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def stores() -> CountingStores:
    return CountingStores()


def limiter_over(stores, clock, **kw) -> RateLimiter:
    return RateLimiter(stores, default_per_s=10, burst=20, clock=clock, **kw)


async def test_over_the_limit_a_store_gets_429_with_retry_after_and_no_field(stores, clock):
    await store_with(stores, "s1", None)
    limited = []
    limiter = limiter_over(stores, clock, on_limited=lambda: limited.append(1))
    await limiter.admit("s1", 20)
    with pytest.raises(RateLimited) as caught:
        await limiter.admit("s1", 5)
    error = caught.value
    assert (error.status_code, error.code, error.field, error.headers()) == (429, "rate_limited", None, {"Retry-After": "1"})
    assert limited == [1]
    clock.now += 0.5
    await limiter.admit("s1", 5)


async def test_each_store_has_its_own_bucket_and_its_own_rate(stores, clock):
    await store_with(stores, "slow", None)
    await store_with(stores, "fast", 100)
    limiter = limiter_over(stores, clock)
    await limiter.admit("slow", 20)
    await limiter.admit("fast", 100)  # its own rate makes its bucket a second's worth
    with pytest.raises(RateLimited) as caught:
        await limiter.admit("slow", 20)
    assert caught.value.retry_after == 2  # 20 tokens at 10/s


async def test_the_store_is_read_once_per_ttl_not_per_request(stores, clock):
    await store_with(stores, "s1", 1000)
    limiter = limiter_over(stores, clock, store_ttl_s=30)
    for _ in range(5):
        await limiter.admit("s1", 1)
    assert stores.reads == 1
    clock.now += 31
    await limiter.admit("s1", 1)
    assert stores.reads == 2


async def test_every_call_of_a_request_counts_and_a_refused_request_publishes_nothing(stores, clock):
    await store_with(stores, "s1", None)
    publisher = FakePublisher()
    ingest = Ingest(
        seen=FakeSeen(), publisher=publisher, rules=Rules(), dedup_window=timedelta(hours=1),
        clock=lambda: datetime(2025, 1, 1, tzinfo=timezone.utc), new_id=lambda: "generated",
        limiter=RateLimiter(stores, default_per_s=1, burst=3, clock=clock),
    )
    body = {"batch": [{"type": "page", "userId": "u", "messageId": m} for m in ("a", "b")] + [{"type": "page"}]}
    outcome = await ingest.batch(body, store_id="s1", max_events=10)  # 2 valid + 1 rejected = 3
    assert (len(outcome.published), len(outcome.rejected)) == (2, 1)
    with pytest.raises(RateLimited):
        await ingest.one({"userId": "u", "messageId": "c"}, call="page", store_id="s1")
    assert [e.id for e in publisher.published] == ["a", "b"]
