"""Ingest's size and count limits, and how a request over one is refused.

Segment's limits are ingest's: 32 KB a call, 500 KB and 2,500 calls a batch. Segment drops some
oversized events quietly; ingest refuses the whole request with 400 (as Segment documents), a
code (`payload_too_large` for bytes, `too_many_events` for a count), the limit in the message and
the field, so a shop sees at once that nothing of it was taken.
"""

from __future__ import annotations

import json
from typing import Any

from boomerang.ingest.domain.rejections import Rejected

BODY = "body"


class OverLimit(Rejected):
    """A request over a size or count limit: 400, like every other fault the shop must fix.

    Not the shared `PayloadTooLarge` (413, which feedback answers providers' webhooks): Segment's
    HTTP API documents 400 for these, and ingest answers as Segment does.
    """


def body_too_large(limit: int, of: str) -> OverLimit:
    """`of` names what the limit is for: `POST /v1/batch`, `a single event`."""
    return OverLimit(
        "payload_too_large",
        f"the body is larger than {size(limit)}, the limit of {of}; nothing of it was accepted",
        BODY,
    )


def too_many_events(limit: int, field: str) -> OverLimit:
    return OverLimit(
        "too_many_events",
        f"{field} holds more than {limit:,} events, the most one request takes; "
        "nothing of it was accepted: split it into several requests",
        field,
    )


def size(limit: int) -> str:
    """`32 KB (32,768 bytes)`: the unit a shop's docs use, and the exact figure."""
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if limit >= factor and limit % factor == 0:
            return f"{limit // factor:,} {unit} ({limit:,} bytes)"
    return f"{limit:,} bytes"


def check_event_size(event: Any, limit: int) -> None:
    """One event of a list, held to the single-event limit as Segment does (32 KB a call).

    Measured as compact JSON, which is no larger than what the shop sent for it."""
    encoded = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    if len(encoded) > limit:
        raise OverLimit(
            "payload_too_large",
            f"this event is larger than {size(limit)}, the limit of a single event; "
            "the rest of the request was taken",
            None,
        )
