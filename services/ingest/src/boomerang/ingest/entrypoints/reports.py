"""What every entrypoint logs and counts of a request: ids, codes, counts and field paths, never
the values a shop sent (an offending value may be an email or a phone number)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from boomerang.ingest import metrics
from boomerang.ingest.domain.rejections import Rejection
from boomerang.ingest.service_layer.ingest import Outcome
from boomerang.shared.errors import BoomerangError
from boomerang.shared.logs import get_logger

log = get_logger("boomerang.ingest.entrypoints")


def log_refused(exc: BoomerangError, endpoint: str) -> None:
    log.info("request_refused", endpoint=endpoint, status=exc.status_code, code=exc.code, field=exc.field)


def report_ingested(
    outcome: Outcome,
    *,
    endpoint: str,
    store_id: str,
    rejected_type: Callable[[Rejection], str],
    **extra: Any,
) -> None:
    """Log what a request delivered and count it by event type (`rejected_type` names the type
    of a rejected event, which has no envelope)."""
    log.info(
        "events_ingested",
        store_id=store_id,
        endpoint=endpoint,
        accepted=outcome.accepted,
        published=len(outcome.published),
        duplicates=outcome.duplicates,
        rejected=len(outcome.rejected),
        **extra,
    )
    metrics.count_delivery(outcome, rejected_type)
