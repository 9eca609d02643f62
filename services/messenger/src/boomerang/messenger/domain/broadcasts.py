"""Broadcasts: an operator's campaign to a segment, sent through the same policy as every flow.

An operator names a broadcast flow (`trigger.kind: broadcast`), a campaign id and its content,
and optionally the segments to send to (they replace the flow's `audience.segments_any` and
`segments_none`; its order and spend conditions still hold). Every customer the messenger
knows to be in the audience at that moment (from `customer.segments.v1`) gets one delayed
ledger step due at `send_at`; the scheduler then decides each at the moment it goes, so
consent, suppressions, caps, quiet hours, the send window in the customer's own time zone and
the holdout apply as for any flow. The campaign id is the trigger instance: starting the same
broadcast again writes nothing new.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from boomerang.messenger.domain.audience import CustomerFacts, audience_miss
from boomerang.messenger.domain.content import Campaign
from boomerang.messenger.domain.flow_definitions import SEGMENTS, Audience, BroadcastTrigger, FlowDefinition
from boomerang.shared.errors import BadRequest

CAMPAIGN_ID = re.compile(r"[a-z0-9][a-z0-9_.-]{0,127}")
_KNOWN_SEGMENTS = frozenset(segment for names in SEGMENTS.values() for segment in names)


class InvalidBroadcast(BadRequest):
    code = "invalid_broadcast"


@dataclass(frozen=True)
class Broadcast:
    store_id: str
    campaign_id: str
    flow: str
    campaign: Campaign
    send_at: datetime
    segments_any: tuple[str, ...] | None = None  # None: the flow's audience says
    segments_none: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Member:
    """A customer and what the messenger knows of them (their current segments, orders, spend)."""

    customer_id: str
    facts: CustomerFacts


def check(broadcast: Broadcast, flow: FlowDefinition) -> Audience:
    """The audience the broadcast goes to; InvalidBroadcast names the field that is wrong."""
    if not CAMPAIGN_ID.fullmatch(broadcast.campaign_id):
        raise InvalidBroadcast(
            "campaign ids are lower-case letters, digits, '.', '_' and '-', at most 128", field="campaign_id"
        )
    if not isinstance(flow.trigger, BroadcastTrigger):
        raise InvalidBroadcast(f"flow {flow.name} is not a broadcast (trigger.kind: broadcast)", field="flow")
    if not flow.enabled:
        raise InvalidBroadcast(f"flow {flow.name} is switched off for this store", field="flow")
    for field, segments in (("segments_any", broadcast.segments_any), ("segments_none", broadcast.segments_none)):
        if unknown := sorted(set(segments or ()) - _KNOWN_SEGMENTS):
            known = ", ".join(sorted(_KNOWN_SEGMENTS))
            raise InvalidBroadcast(f"unknown segments {', '.join(unknown)}; known: {known}", field=field)
    audience = flow.audience.model_copy(
        update={
            name: value
            for name, value in (("segments_any", broadcast.segments_any), ("segments_none", broadcast.segments_none))
            if value is not None
        }
    )
    if audience.categories_any:
        # Interests live in the recommendation data, per customer; a broadcast reads segments only.
        raise InvalidBroadcast("a broadcast audience cannot filter by categories", field="audience.categories_any")
    if not audience.segments_any:
        raise InvalidBroadcast("name the segments to send to (segments_any)", field="segments_any")
    return audience


def recipients(audience: Audience, members: Iterable[Member]) -> list[Member]:
    """The members in the audience, in the order given."""
    return [member for member in members if audience_miss(audience, member.facts) is None]
