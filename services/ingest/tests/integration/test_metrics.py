"""/metrics after real traffic: counts by event type and reason, latency by route, gauges."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from boomerang.shared.events import CustomerIdentified, CustomEventTracked, PageViewed

from .conftest import basic

pytestmark = pytest.mark.integration

SECRET_CUSTOMER = "cust-do-not-label-me"
SECRET_EMAIL = "ada.secret@example.com"


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def delta(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_metrics_count_events_by_type_and_reason_and_time_requests_by_route(client, shop):
    before = samples((await client.get("/metrics")).text)
    auth = basic(shop.key)
    identify = {"userId": SECRET_CUSTOMER, "messageId": "m-id", "traits": {"email": SECRET_EMAIL}}
    assert (await client.post("/v1/identify", json=identify, headers=auth)).status_code == 200
    bad_phone = {"userId": SECRET_CUSTOMER, "traits": {"phone": "12"}}
    assert (await client.post("/v1/identify", json=bad_phone, headers=auth)).status_code == 400
    custom = {"userId": SECRET_CUSTOMER, "messageId": "m-custom", "event": "Wishlist Shared"}
    for _ in range(2):
        assert (await client.post("/v1/track", json=custom, headers=auth)).status_code == 200
    batch = {"batch": [
        {"type": "page", "userId": SECRET_CUSTOMER, "messageId": "m-page"},
        {"type": "track", "userId": SECRET_CUSTOMER},  # no event name
        {"type": SECRET_EMAIL, "userId": SECRET_CUSTOMER},  # free text where the type goes
    ]}
    assert (await client.post("/v1/batch", json=batch, headers=auth)).status_code == 200
    assert (await client.get(f"/v1/customers-nope/{SECRET_CUSTOMER}")).status_code == 404
    text = (await client.get("/metrics")).text
    after = samples(text)

    def counted(name: str, **labels: str) -> float:
        return delta(before, after, f"boomerang_ingest_{name}", **labels)

    identified, custom_type, page = CustomerIdentified.event_type, CustomEventTracked.event_type, PageViewed.event_type
    assert counted("events_accepted_total", event_type=identified) == 1
    assert counted("events_published_total", event_type=identified) == 1
    assert counted("events_accepted_total", event_type=custom_type) == 2
    assert counted("events_published_total", event_type=custom_type) == 1
    assert counted("events_deduplicated_total", event_type=custom_type) == 1
    assert counted("events_published_total", event_type=page) == 1
    assert counted("events_rejected_total", code="invalid_phone", event_type="identify") == 1
    assert counted("events_rejected_total", code="missing_field", event_type="track") == 1
    assert counted("events_rejected_total", code="unsupported_type", event_type="unknown") == 1
    latency = "request_seconds_count"
    assert counted(latency, endpoint="/v1/track", method="POST", status="200") == 2
    assert counted(latency, endpoint="/v1/identify", method="POST", status="400") == 1
    assert counted(latency, endpoint="/v1/batch", method="POST", status="200") == 1
    assert counted(latency, endpoint="other", method="GET", status="404") == 1
    assert after[("boomerang_ingest_producer_in_flight", frozenset())] == 0
    assert after[("boomerang_ingest_events_in_doubt", frozenset())] == 0
    assert ("boomerang_ingest_rate_limited_requests_total", frozenset()) in after
    assert ("boomerang_ingest_producer_errors_total", frozenset()) in after
    # Nothing a customer or a store typed ever becomes a label.
    assert SECRET_CUSTOMER not in text and SECRET_EMAIL not in text
