"""Feedback's Prometheus metrics. Labels are closed sets: provider, kind, reason; never ids."""

from __future__ import annotations

from prometheus_client import Gauge

from boomerang.shared.metrics import counter, histogram

WEBHOOK_EVENTS = counter(
    "feedback", "webhook_events_total", "Provider events received in signed webhooks", ("provider", "kind")
)
DUPLICATES = counter(
    "feedback",
    "webhook_duplicates_total",
    "Events received again (provider retries): acked, not stored",
    ("provider",),
)
SIGNATURE_FAILURES = counter(
    "feedback", "signature_failures_total", "Webhooks refused for their signature", ("provider", "reason")
)
REJECTED = counter(
    "feedback", "webhook_rejected_total", "Webhooks refused for their body", ("provider", "code")
)
UNATTRIBUTED = counter(
    "feedback",
    "unattributed_events_total",
    "Events without the store and customer ids we sent",
    ("provider",),
)
PUBLISHED = counter("feedback", "events_published_total", "Envelopes acknowledged by Kafka", ("provider",))
PUBLISH_FAILURES = counter("feedback", "publish_failures_total", "Publish attempts that failed", ("path",))
PUBLISH_LAG = histogram(
    "feedback",
    "publish_lag_seconds",
    "From receiving an event to Kafka acknowledging it",
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600, 3600),
)
UNPUBLISHED = Gauge("boomerang_feedback_unpublished_events", "Stored events not yet on Kafka")
OLDEST_UNPUBLISHED = Gauge(
    "boomerang_feedback_oldest_unpublished_age_seconds", "Age of the oldest stored event not yet on Kafka"
)
