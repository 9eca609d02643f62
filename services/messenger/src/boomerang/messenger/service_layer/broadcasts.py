"""Start an operator's broadcast: one delayed ledger step per customer in its audience.

The scheduler sends them (`Messenger.send_due`) through the same policy as every flow. Writing
the steps rather than sending here keeps a broadcast of a million customers out of the
consumer's way, lets the send window hold in each customer's time zone, and makes a second
start of the same campaign id a no-op (the same idempotency keys).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from boomerang.messenger.domain.broadcasts import Broadcast, check, recipients
from boomerang.messenger.domain.flow_definitions import FlowSet
from boomerang.messenger.domain.messages import LedgerEntry, Trigger
from boomerang.messenger.service_layer.ports import Campaigns, SegmentMembers, SendLedger
from boomerang.shared.errors import NotFound

SCHEDULED = "broadcast"  # the reason its steps wait in the ledger until `send_at`


@dataclass(frozen=True)
class BroadcastStarted:
    campaign_id: str
    send_at: datetime
    audience: int  # customers in the audience now
    scheduled: int  # steps written by this start
    already_scheduled: int  # steps an earlier start of the same campaign wrote


def start_broadcast(
    broadcast: Broadcast,
    flows: FlowSet,
    members: SegmentMembers,
    campaigns: Campaigns,
    ledger: SendLedger,
    now: datetime,
) -> BroadcastStarted:
    try:
        flow = flows.get(broadcast.flow)
    except KeyError:
        raise NotFound(f"no flow {broadcast.flow!r} in this store", field="flow") from None
    check(broadcast, flow)  # before storing: a rejected broadcast leaves nothing behind
    broadcast = campaigns.add(broadcast, now)  # a second start keeps the first one's content
    audience = check(broadcast, flow)
    step, first = next(iter(flow.steps.items()))
    written = seen = 0
    for member in recipients(audience, members.members(broadcast.store_id, audience.segments_any)):
        trigger = Trigger(
            broadcast.store_id, member.customer_id, flow.name, broadcast.campaign_id, f"broadcast:{broadcast.campaign_id}"
        )
        entry = LedgerEntry.open(trigger, step, first.channels[0], now, flow.purpose, flow.priority)
        # Due at `send_at` even when that has passed (the scheduler then sends at once): a messenger
        # on event time (a replay) is due by its history's clock, years before the command's `now`.
        claim = ledger.claim(entry.delayed(broadcast.send_at, SCHEDULED))
        written, seen = (written + 1, seen) if claim.won else (written, seen + 1)
    return BroadcastStarted(broadcast.campaign_id, broadcast.send_at, written + seen, written, seen)
