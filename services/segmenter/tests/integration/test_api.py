"""The query API through httpx (ASGI) over a snapshot store filled by the repository."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from boomerang.segmenter.adapters.snapshots import SqlSnapshots
from boomerang.segmenter.domain.snapshots import CustomerSnapshot, TransitionRecord
from boomerang.segmenter.entrypoints.api import create_app
from boomerang.segmenter.migrations import upgrade
from boomerang.segmenter.settings import SegmenterSettings
from boomerang.shared.db import make_engine

pytestmark = pytest.mark.integration
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
SCORES = {"model_id": "s1@1#abc", "recency_score": 5, "frequency_score": 4, "monetary_score": 3, "historic_clv": 80.0,
          "p_alive": 0.8, "lapse_score": 0.2, "predicted_clv_365d": 150.0, "clv_percentile": 92.0}


@pytest.fixture
async def client(database_url: str):
    upgrade(database_url)
    engine = make_engine(database_url)
    snapshots = SqlSnapshots(engine)
    profile = {"orders": 2, "net_revenue": "550.00"}
    snapshots.write(
        [
            CustomerSnapshot("s1", "c1", "active", "vip", profile, SCORES, NOW, NOW),
            CustomerSnapshot("s1", "anon:a1", "prospect", "regular", {"orders": 0}, None, NOW, NOW),
            CustomerSnapshot("s1", "c2", "lapsed", "regular", profile, {**SCORES, "predicted_clv_365d": 10.0,
                                                                       "recency_score": 1, "monetary_score": 1}, NOW, NOW),
        ],
        [
            TransitionRecord("t1", "s1", "c1", "lifecycle", None, "new", "first_order", None, NOW - timedelta(days=40)),
            TransitionRecord("t2", "s1", "c1", "lifecycle", "new", "active", "new_period_over", None, NOW - timedelta(days=5)),
            TransitionRecord("t3", "s1", "c1", "value", None, "vip", "clv_percentile_reached_enter", "92 >= 90",
                             NOW - timedelta(hours=3)),
            TransitionRecord("t4", "s1", "c2", "lifecycle", "at_risk", "lapsed", "past_lapsed_horizon", None,
                             NOW - timedelta(hours=1)),
        ],
    )
    engine.dispose()
    app = create_app(SegmenterSettings(database_url=database_url), clock=lambda: NOW)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://segmenter") as c:
            yield c


async def test_a_customer_with_profile_state_scores_and_history(client):
    response = await client.get("/v1/customers/s1/c1")
    assert response.status_code == 200
    body = response.json()
    assert (body["lifecycle"], body["value_tier"], body["profile"]["net_revenue"]) == ("active", "vip", "550.00")
    assert body["scores"]["predicted_clv_365d"] == 150.0
    assert [t["to_segment"] for t in body["transitions"]] == ["vip", "active", "new"]
    assert body["transitions"][0] | {"changed_at": None} == {
        "id": "t3", "dimension": "value", "from_segment": None, "to_segment": "vip",
        "reason": "clv_percentile_reached_enter", "detail": "92 >= 90", "changed_at": None,
    }
    assert (await client.get("/v1/customers/s1/anon:a1")).json()["scores"] is None


async def test_an_unknown_customer_is_a_404_in_the_shared_error_shape(client):
    response = await client.get("/v1/customers/s1/nobody")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "customer_not_found", "message": "no such customer in this store", "field": "customer_id"}
    }
    bad = await client.get("/v1/segments/not:a:store")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "store"


async def test_segment_sizes_and_movement_over_24h_and_7d(client):
    body = (await client.get("/v1/segments/s1")).json()
    assert body["customers"] == 3
    assert body["lifecycle"] == {"active": 1, "lapsed": 1, "prospect": 1}
    assert body["value"] == {"regular": 2, "vip": 1}
    assert body["movement"]["24h"] == {
        "at_risk": {"entered": 0, "left": 1, "net": -1},
        "lapsed": {"entered": 1, "left": 0, "net": 1},
        "vip": {"entered": 1, "left": 0, "net": 1},
    }
    assert body["movement"]["7d"]["active"] == {"entered": 1, "left": 0, "net": 1}
    assert body["movement"]["7d"]["new"] == {"entered": 0, "left": 1, "net": -1}
    earlier = (await client.get("/v1/segments/s1", params={"now": (NOW - timedelta(days=30)).isoformat()})).json()
    assert earlier["movement"]["7d"] == {} and earlier["customers"] == 3


async def test_score_distributions_and_rfm_cells(client):
    body = (await client.get("/v1/scores/s1", params={"bins": 2})).json()
    assert body["scored_customers"] == 2
    assert body["rfm_cells"] == {"141": 1, "543": 1}
    clv = body["distributions"]["predicted_clv_365d"]
    assert (clv["count"], clv["min"], clv["max"], clv["quantiles"]["p50"]) == (2, 10.0, 150.0, 80.0)
    assert [(h["from"], h["to"], h["count"]) for h in clv["histogram"]] == [(10.0, 80.0, 1), (80.0, 150.0, 1)]
    assert (await client.get("/v1/scores/none")).json()["distributions"]["p_alive"]["count"] == 0


async def test_openapi_and_ops_endpoints(client):
    spec = (await client.get("/openapi.json")).json()
    assert {"/v1/customers/{store}/{customer_id}", "/v1/segments/{store}", "/v1/scores/{store}"} <= set(spec["paths"])
    assert (await client.get("/readyz")).json() == {"status": "ready", "checks": {"database": True}}
    assert (await client.get("/healthz")).status_code == 200
