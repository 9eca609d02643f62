"""Erasure requests over fake ports: who may ask, what is published, what ingest forgets."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from boomerang.ingest.domain.rejections import Rejected
from boomerang.ingest.service_layer.ingest import KafkaUnavailable
from boomerang.ingest.service_layer.privacy import Erasures, StoreMismatch
from boomerang.shared.events import ErasureRequested

from .fakes import FakePublisher

NOW = datetime(2025, 3, 1, 12, tzinfo=timezone.utc)


class FakeCustomerData:
    """What ingest keeps per customer, as (store, customer) -> rows."""

    def __init__(self, rows: dict[tuple[str, str], int]) -> None:
        self.rows = rows

    async def forget_customer(self, store_id: str, customer_id: str) -> int:
        return self.rows.pop((store_id, customer_id), 0)


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def kept() -> FakeCustomerData:
    return FakeCustomerData({("shop-a", "cust-1"): 3, ("shop-b", "cust-1"): 2})


@pytest.fixture
def erasures(publisher, kept) -> Erasures:
    return Erasures(
        publisher=publisher, holders=[kept], clock=lambda: NOW, new_id=lambda: "req-1", retry_after_s=7
    )


async def test_a_request_is_published_keyed_by_customer_and_ingest_forgets_them(erasures, publisher, kept):
    receipt = await erasures.request(
        key_store_id="shop-a", store_id="shop-a", customer_id="cust-1", reason="asked"
    )

    [envelope] = publisher.published
    assert (receipt.request_id, receipt.forgotten) == ("req-1", 3)
    assert (envelope.id, envelope.key, envelope.type) == (
        "req-1",
        "shop-a:cust-1",
        "privacy.erasure.requested",
    )
    assert envelope.event() == ErasureRequested(request_id="req-1", requested_at=NOW, reason="asked")
    assert kept.rows == {("shop-b", "cust-1"): 2}  # another shop's customer of the same id stays


async def test_a_key_of_another_store_may_not_erase(erasures, publisher, kept):
    with pytest.raises(StoreMismatch) as caught:
        await erasures.request(key_store_id="shop-b", store_id="shop-a", customer_id="cust-1")
    assert (caught.value.status_code, caught.value.code) == (403, "store_mismatch")
    assert publisher.published == [] and ("shop-a", "cust-1") in kept.rows


async def test_kafka_down_is_a_503_that_can_be_retried(erasures, publisher, kept):
    publisher.fail_next = 1
    with pytest.raises(KafkaUnavailable) as caught:
        await erasures.request(key_store_id="shop-a", store_id="shop-a", customer_id="cust-1")
    assert caught.value.headers() == {"Retry-After": "7"}
    receipt = await erasures.request(key_store_id="shop-a", store_id="shop-a", customer_id="cust-1")
    assert [e.id for e in publisher.published] == [receipt.request_id]


async def test_an_overlong_id_or_reason_is_rejected_with_its_field(erasures, publisher):
    for customer_id, reason, field in (("c" * 257, None, "customer_id"), ("c", "r" * 501, "reason")):
        with pytest.raises(Rejected) as caught:
            await erasures.request(
                key_store_id="shop-a", store_id="shop-a", customer_id=customer_id, reason=reason
            )
        assert (caught.value.code, caught.value.field) == ("invalid_field", field)
    assert publisher.published == []
