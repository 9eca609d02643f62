"""Per-store rate limits through HTTP: 429 with Retry-After, and one store never slows another."""

from __future__ import annotations

import pytest

from boomerang.ingest.bootstrap import store_admin
from boomerang.ingest.service_layer import stores

from .conftest import basic, commerce_events, make_shop, serving, settings_for

pytestmark = pytest.mark.integration


def track(message_id: str) -> dict:
    return {"userId": "cust-1", "messageId": message_id, "event": "Wishlist Shared", "properties": {}}


async def test_a_store_over_its_rate_gets_429_with_retry_after_and_other_stores_do_not(
    kafka_bootstrap, topic_prefix, tmp_path
):
    # One event every 10 s after a burst of 3: the test cannot be slow enough to earn a token.
    settings = settings_for(kafka_bootstrap, topic_prefix, tmp_path, rate_limit_per_s=0.1, rate_limit_burst=3)
    slow = await make_shop(settings, "shop-slow")
    fast = await make_shop(settings, "shop-fast")
    await stores.set_rate_limit(store_admin(settings), "shop-fast", 1000)

    async with serving(settings) as client:
        burst = {"batch": [{"type": "track", **track(f"s-{n}")} for n in range(3)]}
        assert (await client.post("/v1/batch", json=burst, headers=basic(slow.key))).status_code == 200
        limited = await client.post("/v1/track", json=track("s-over"), headers=basic(slow.key))
        limited_batch = await client.post(
            "/v1/batch", json={"batch": [{"type": "track", **track("s-over-2")}]}, headers=basic(slow.key)
        )
        limited_erasure = await client.delete("/v1/customers/shop-slow/cust-1", headers=basic(slow.key))
        others = [
            await client.post("/v1/track", json=track(f"f-{n}"), headers=basic(fast.key)) for n in range(10)
        ]
        metrics = (await client.get("/metrics")).text

    assert limited.status_code == 429
    assert limited.json() == {
        "error": {"code": "rate_limited", "message": limited.json()["error"]["message"], "field": None}
    }
    assert 9 <= int(limited.headers["Retry-After"]) <= 10  # (1 token - what trickled in) at 0.1/s
    assert limited_batch.status_code == 429 and limited_batch.json()["error"]["code"] == "rate_limited"
    assert limited_erasure.status_code == 429 and "Retry-After" in limited_erasure.headers
    assert [a.status_code for a in others] == [200] * 10

    published = sorted(e.id for _, e in await commerce_events(kafka_bootstrap, topic_prefix))
    assert published == sorted([*(f"s-{n}" for n in range(3)), *(f"f-{n}" for n in range(10))])
    assert 'boomerang_ingest_events_rejected_total{code="rate_limited",event_type="track"}' in metrics
    assert "boomerang_ingest_rate_limited_requests_total" in metrics
