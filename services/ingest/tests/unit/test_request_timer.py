"""Request latency is labelled by route template, never by the raw path a client chose."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY

from boomerang.ingest import metrics
from boomerang.ingest.entrypoints.app import RequestTimer

TEMPLATE = "/v1/test-timer/{store}/{customer_id}"


def timed(endpoint: str, method: str, status: str) -> float:
    labels = {"endpoint": endpoint, "method": method, "status": status}
    return REGISTRY.get_sample_value("boomerang_ingest_request_seconds_count", labels) or 0.0


async def test_a_path_with_ids_is_labelled_by_its_template_and_unknown_paths_share_one_label():
    app = FastAPI()

    @app.delete("/v1/test-timer/{store}/{customer_id:path}")  # the label has no convertor
    async def erase(store: str, customer_id: str) -> dict:
        return {"store": store}

    app.add_middleware(RequestTimer)
    series = [(TEMPLATE, "DELETE", "200"), (TEMPLATE, "other", "405"), ("other", "GET", "404")]
    before = [timed(*s) for s in series]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for customer in ("cust-1", "cust-2"):
            assert (await client.delete(f"/v1/test-timer/shop-a/{customer}")).status_code == 200
        assert (await client.request("PROPFIND", "/v1/test-timer/shop-a/cust-3")).status_code == 405
        assert (await client.get("/v1/nowhere/cust-4")).status_code == 404
    assert [timed(*s) - b for s, b in zip(series, before)] == [2, 1, 1]
    labels = {value for family in metrics.REQUEST_SECONDS.collect() for s in family.samples for value in s.labels.values()}
    assert not any("cust-" in value or "PROPFIND" in value for value in labels)
