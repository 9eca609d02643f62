"""The messenger's Prometheus metrics (module level: one registration per process)."""

from boomerang.shared.metrics import counter, histogram

EVENTS = counter("messenger", "events_total", "Envelopes handled, by event type", ("type",))
MESSAGES = counter(
    "messenger", "messages_total", "Ledger entries settled, by outcome", ("flow", "channel", "status")
)
DUPLICATES_AVOIDED = counter(
    "messenger",
    "duplicates_avoided_total",
    "Triggers seen again whose message was already settled, so nothing was sent",
    ("flow", "channel"),
)
RECONCILED = counter(
    "messenger",
    "reconciled_total",
    "Pending ledger entries resumed after a crash, by whether the provider already had the message",
    ("channel", "result"),
)
PROVIDER_RETRIES = counter(
    "messenger", "provider_retries_total", "Provider calls retried, by HTTP status", ("provider", "status")
)
SEND_SECONDS = histogram("messenger", "send_seconds", "Time to hand a message to its provider", ("provider",))
DELAYED = counter(
    "messenger",
    "delayed_total",
    "Messages due later (flow delay, send window, quiet hours), written as delayed for the scheduler",
    ("flow", "reason"),
)
SCHEDULER_CLAIMED = counter(
    "messenger", "scheduler_claimed_total", "Delayed messages the scheduler claimed when due", ()
)
SUPPRESSION_CHANGES = counter(
    "messenger",
    "suppression_changes_total",
    "Suppression list changes from feedback events, by block and whether lifted",
    ("block", "lift"),
)
COUPONS = counter("messenger", "coupons_total", "Coupons issued and redemptions, by outcome", ("outcome",))
