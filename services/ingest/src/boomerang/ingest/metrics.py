"""Ingest's Prometheus metrics (created once per process).

Labels are bounded: event types are the envelope's type (a fixed list) or, for a call that
could not be mapped, the Segment call type or entrypoint name; endpoints are route templates.
No label ever carries a customer id, an email or any text a store controls.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from prometheus_client import Gauge

from boomerang.shared.metrics import counter, histogram

if TYPE_CHECKING:
    from boomerang.ingest.domain.rejections import Rejection
    from boomerang.ingest.service_layer.ingest import Outcome

SERVICE = "ingest"

ACCEPTED = counter(SERVICE, "events_accepted_total", "Events answered with success", ("event_type",))
REJECTED = counter(
    SERVICE, "events_rejected_total", "Events refused, by reason code", ("code", "event_type")
)
DEDUPLICATED = counter(
    SERVICE, "events_deduplicated_total", "Repeated ids answered as accepted, not published", ("event_type",)
)
PUBLISHED = counter(SERVICE, "events_published_total", "Events Kafka acknowledged", ("event_type",))
PRODUCER_ERRORS = counter(
    SERVICE, "producer_errors_total", "Failed Kafka connects and unacknowledged publishes"
)
PRODUCER_IN_FLIGHT = Gauge(
    f"boomerang_{SERVICE}_producer_in_flight", "Records handed to the Kafka producer and not acked yet"
)
EVENTS_IN_DOUBT = Gauge(
    f"boomerang_{SERVICE}_events_in_doubt",
    "Events whose publish timed out but may still reach Kafka; retries of them answer 503",
)
RATE_LIMITED = counter(SERVICE, "rate_limited_requests_total", "Requests refused with 429 (store over its rate)")
DEDUP_RECORD_FAILURES = counter(
    SERVICE, "dedup_record_failures_total", "Published events whose messageId could not be recorded"
)
REQUEST_SECONDS = histogram(
    SERVICE,
    "request_seconds",
    "Time to answer an API request, by route template",
    ("endpoint", "method", "status"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# Segment call types a batch item may name; anything else is labelled "unknown".
CALL_TYPES = frozenset({"identify", "track", "page", "screen", "group", "alias"})


def call_type(value: object) -> str:
    return value if isinstance(value, str) and value in CALL_TYPES else "unknown"


def count_delivery(outcome: Outcome, rejected_type: Callable[[Rejection], str]) -> None:
    """Count what one request delivered: each accepted event by its envelope type (published or
    answered as a duplicate), each rejected one by code and `rejected_type` (its call type)."""
    published = Counter(e.type for e in outcome.published)
    duplicated = Counter(e.type for e in outcome.duplicated)
    for event_type, n in published.items():
        PUBLISHED.labels(event_type).inc(n)
    for event_type, n in duplicated.items():
        DEDUPLICATED.labels(event_type).inc(n)
    for event_type, n in (published + duplicated).items():
        ACCEPTED.labels(event_type).inc(n)
    for (code, event_type), n in Counter((r.code, rejected_type(r)) for r in outcome.rejected).items():
        REJECTED.labels(code, event_type).inc(n)
    if not outcome.remembered:
        DEDUP_RECORD_FAILURES.inc()


def count_refusal(code: str, event_type: str, events: int = 1) -> None:
    """A request refused whole (bad key, too large, rate limited, Kafka down...)."""
    REJECTED.labels(code, event_type).inc(events)
