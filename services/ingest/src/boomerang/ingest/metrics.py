"""Ingest's Prometheus metrics (created once per process; labels never carry customer data)."""

from __future__ import annotations

from boomerang.shared.metrics import counter, histogram

SERVICE = "ingest"

ACCEPTED = counter(SERVICE, "events_accepted_total", "Events answered with success", ("endpoint",))
REJECTED = counter(SERVICE, "events_rejected_total", "Events refused, by reason code", ("code",))
DEDUPLICATED = counter(SERVICE, "events_deduplicated_total", "Repeated messageIds answered, not published")
PUBLISHED = counter(SERVICE, "events_published_total", "Events Kafka acknowledged", ("event_type",))
PRODUCER_ERRORS = counter(
    SERVICE, "producer_errors_total", "Failed Kafka connects and unacknowledged publishes"
)
DEDUP_RECORD_FAILURES = counter(
    SERVICE, "dedup_record_failures_total", "Published events whose messageId could not be recorded"
)
REQUEST_SECONDS = histogram(
    SERVICE,
    "request_seconds",
    "Time to answer an API request",
    ("endpoint", "status"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
