"""Segmenter's Prometheus metrics (created once per process; labels never carry customer data)."""

from __future__ import annotations

from boomerang.shared.metrics import counter, histogram

SERVICE = "segmenter"

EVENTS_PROCESSED = counter(SERVICE, "events_processed_total", "Envelopes applied to customer state", ("type",))
FEEDBACK_IGNORED = counter(
    SERVICE,
    "feedback_ignored_total",
    "Feedback events skipped: not engagement (delivery outcomes, opens, unsubscribes) or a type unknown here",
    ("reason",),
)
DUPLICATES = counter(SERVICE, "events_duplicate_total", "Redelivered envelopes recognised by id and skipped")
TRANSITIONS = counter(SERVICE, "transitions_total", "Segment transitions published", ("to_segment",))
DEAD_LETTERED = counter(SERVICE, "dead_lettered_total", "Messages sent to the dead-letter topic", ("reason",))
PUBLISH_RETRIES = counter(SERVICE, "publish_retries_total", "Publishes Kafka did not acknowledge, retried")
SWEPT = counter(SERVICE, "swept_total", "Customers the time sweep brought up to date")
SWEEP_DUE = counter(SERVICE, "sweep_due_total", "Customers the sweep timer found due and queued")
MODELS_FITTED = counter(SERVICE, "models_fitted_total", "Store scoring models fitted by the leader")
MODEL_REFITS_SKIPPED = counter(
    SERVICE, "model_refits_skipped_total", "Refits not adopted: they moved too few customers to re-score the store"
)
MODEL_FIT_FAILURES = counter(SERVICE, "model_fit_failures_total", "Store scoring model fits that failed")
MODELS_LOADED = counter(SERVICE, "models_loaded_total", "Store scoring models this worker started applying")
BATCH_SECONDS = histogram(
    SERVICE,
    "batch_seconds",
    "Time to handle one batch of source messages, publishing and saving included",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
BATCH_SIZE = histogram(
    SERVICE,
    "batch_size",
    "Source messages per batch (the agent takes up to BATCH_MAX_EVENTS at a time)",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500),
)
SWEEP_SCAN_SECONDS = histogram(
    SERVICE,
    "sweep_scan_seconds",
    "Time the sweep timer took to find the due customers in this worker's due table",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SWEEP_SCANNED = counter(SERVICE, "sweep_scanned_total", "Due-table rows the sweep timer looked at")
SNAPSHOTS_WRITTEN = counter(SERVICE, "snapshots_written_total", "Customer snapshots written to the snapshot store")
SNAPSHOT_FLUSH_FAILURES = counter(SERVICE, "snapshot_flush_failures_total", "Snapshot store flushes that failed")
SNAPSHOTS_DROPPED = counter(SERVICE, "snapshots_dropped_total", "Snapshots not buffered: the buffer was full")
