"""What the messenger does with each event it consumes.

- `commerce.events.v1`: `CustomerIdentified` updates the contact card; `OrderPlaced` redeems the
  coupons it names and runs the event-started flows (the receipt).
- `customer.segments.v1`: `SegmentChanged` starts the segment flows whose trigger it matches
  (win-back, VIP welcome, neutral nurture), first step only (see `start_flow`).
- `feedback.events.v1`: `ProviderEventReceived` updates the customer's suppression list.

Every step goes through `domain.sending.decide_send` (consent, suppressions, holdout, timing,
caps) and then `Delivery` (the ledger before the provider). A key already settled in the ledger
is not decided again, so a redelivered trigger cannot turn a holdout or a cap into a send.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from boomerang.messenger import metrics
from boomerang.messenger.domain.audience import NOT_IN_AUDIENCE, CustomerFacts, audience_miss
from boomerang.messenger.domain.caps import DEFAULT_CAPS, PastSend
from boomerang.messenger.domain.contacts import Contact, identify
from boomerang.messenger.domain.content import MessageInputs, flow_view
from boomerang.messenger.domain.coupons import Coupon, Offer
from boomerang.messenger.domain.flow_definitions import FlowDefinition, FlowSet, SegmentTrigger
from boomerang.messenger.domain.flows import FLOWS, Channel, Flow, Purpose, Step, flows_triggered_by
from boomerang.messenger.domain.messages import LedgerEntry, Outbound, Trigger
from boomerang.messenger.domain.policy import NO_ADDRESS
from boomerang.messenger.domain.sending import (
    Decision,
    Delay,
    Recipient,
    SendPolicy,
    SendRequest,
    Suppress,
    decide_send,
)
from boomerang.messenger.domain.suppressions import change_for
from boomerang.messenger.flows import default_flows
from boomerang.messenger.service_layer import coupons as coupon_service
from boomerang.messenger.service_layer.composing import Composer, Draft
from boomerang.messenger.service_layer.delivery import Delivery
from boomerang.messenger.service_layer.ports import Contacts, CouponRepository, Suppressions
from boomerang.shared.events import (
    CustomerIdentified,
    Envelope,
    Event,
    OrderPlaced,
    ProviderEventReceived,
    SegmentChanged,
)
from boomerang.shared.logs import get_logger

log = get_logger(__name__)
FLOW_DELAY = "flow_delay"  # a Delay reason of our own: the flow or step says "later"
TRANSACTIONAL_PRIORITY = 100  # receipts are never capped; the number only orders the history
# How far back the caps look: the longest default window. Longer store caps need a longer one.
HISTORY_SPAN = max(rule.window for rule in DEFAULT_CAPS)


class _NoStoreFlows:
    def for_store(self, store_id: str) -> FlowSet:
        return default_flows()


class Messenger:
    def __init__(
        self,
        contacts: Contacts,
        delivery: Delivery,
        composer: Composer,
        clock: Callable[[], datetime],
        flows: tuple[Flow, ...] = FLOWS,
        *,
        suppressions: Suppressions | None = None,
        coupons: CouponRepository | None = None,
        flow_files: Any = None,  # FlowFiles: `for_store(store_id) -> FlowSet`
        policy: SendPolicy = SendPolicy(),
    ) -> None:
        self._contacts = contacts
        self._delivery = delivery
        self._composer = composer
        self._clock = clock
        self._flows = flows
        self._suppressions = suppressions
        self._coupons = coupons
        self._flow_files = flow_files or _NoStoreFlows()
        self._policy = policy

    async def handle(self, envelope: Envelope) -> None:
        metrics.EVENTS.labels(envelope.type).inc()
        if envelope.type == SegmentChanged.event_type:
            await self.segment_changed(envelope, envelope.event())  # type: ignore[arg-type]
            return
        if envelope.type == ProviderEventReceived.event_type:
            self.provider_event(envelope, envelope.event())  # type: ignore[arg-type]
            return
        flows = flows_triggered_by(envelope.type, self._flows)
        if envelope.type not in (CustomerIdentified.event_type, OrderPlaced.event_type) and not flows:
            return  # page views, surveys and the like: not parsed, so unknown types are not poison
        event = envelope.event()
        if isinstance(event, CustomerIdentified):
            self.customer_identified(envelope, event)
        if isinstance(event, OrderPlaced):
            self.redeem_coupons(envelope, event)
        for flow in flows:
            await self.run_flow(flow, envelope, event)

    def customer_identified(self, envelope: Envelope, event: CustomerIdentified) -> None:
        current = self._contacts.get(envelope.store_id, envelope.customer_id)
        self._contacts.save(identify(current, envelope.store_id, envelope.customer_id, event))

    # --- feedback: the suppression list -----------------------------------------------------------

    def provider_event(self, envelope: Envelope, event: ProviderEventReceived) -> None:
        if self._suppressions is None:
            return
        # A bounce blocks the address it came back from: the one the ledger sent that message to.
        address = self._delivery.recipient_of(event.message_id) if event.message_id else None
        change = change_for(event.provider, event.kind, event.occurred_at, reason=event.reason, address=address)
        if change is None:
            return
        self._suppressions.apply(envelope.store_id, envelope.customer_id, change)
        metrics.SUPPRESSION_CHANGES.labels(change.block.value, str(change.lift).lower()).inc()
        log.info(
            "suppression_changed",
            store_id=envelope.store_id,
            channel=change.channel.value,
            block=change.block.value,
            lift=change.lift,
        )

    # --- coupons ---------------------------------------------------------------------------------

    def redeem_coupons(self, envelope: Envelope, order: OrderPlaced) -> None:
        if self._coupons is None or not order.coupon:
            return
        outcomes = coupon_service.redeem_order(self._coupons, envelope.store_id, order, self._clock())
        for outcome in outcomes.values():
            metrics.COUPONS.labels(outcome.value).inc()
        log.info("coupons_redeemed", order_id=order.order_id, outcomes=sorted(o.value for o in outcomes.values()))

    # --- event-started flows (the receipt) ------------------------------------------------------

    async def run_flow(self, flow: Flow, envelope: Envelope, event: Event) -> None:
        now = self._clock()
        contact = self._contacts.get(envelope.store_id, envelope.customer_id)
        trigger = Trigger(
            envelope.store_id, envelope.customer_id, flow.name, flow.trigger_id(event), envelope.id
        )
        priority = flow.definition.priority if flow.definition else TRANSACTIONAL_PRIORITY
        recipient = self._recipient(
            envelope, contact, getattr(event, "email", None), getattr(event, "phone", None)
        )
        history = self._history(envelope, now)
        view = flow.view(event, contact)
        settled = []
        for step in flow.steps:
            entry = LedgerEntry.open(trigger, step.name, step.channel, now, flow.purpose, priority)
            if (recalled := self._delivery.recall(entry.key)) is not None:
                settled.append(recalled)
                continue
            request = SendRequest(
                entry.key, flow.name, step.name, flow.purpose, priority, (step.channel, *step.fallback)
            )
            decision = decide_send(request, recipient, history, self._policy_for(envelope.store_id), now)
            if isinstance(decision, Suppress) and decision.reason == NO_ADDRESS and step.optional:
                continue  # an optional step nobody can be reached for is not part of the flow
            settled.append(
                await self._carry_out(decision, entry, flow.purpose, contact, view, step.on, offer=None)
            )
        await self._delivery.publish(settled)

    # --- segment-started flows (win-back, VIP welcome, neutral nurture) ---------------------------

    async def segment_changed(self, envelope: Envelope, event: SegmentChanged) -> None:
        flows = [
            flow
            for flow in self._flow_files.for_store(envelope.store_id).started_by(SegmentChanged.event_type)
            if isinstance(flow.trigger, SegmentTrigger) and flow.trigger.matches(event)
        ]
        if not flows:
            return
        contact = self._contacts.get(envelope.store_id, envelope.customer_id)
        facts = CustomerFacts(
            segments=frozenset({event.to_segment}), orders=event.orders, net_revenue=event.revenue
        )
        # One start per segment change: the segmenter's business time names it, so a redelivery
        # or a replay of the same change is the same trigger instance.
        instance = f"{event.to_segment}@{event.changed_at.isoformat()}"
        settled = []
        for flow in flows:  # highest priority first, so the caps let the more important one go
            settled.append(await self.start_flow(flow, envelope, instance, contact, facts))
        await self._delivery.publish(settled)

    async def start_flow(
        self,
        flow: FlowDefinition,
        envelope: Envelope,
        instance: str,
        contact: Contact | None,
        facts: CustomerFacts,
    ) -> LedgerEntry | None:
        """The flow's first step for this customer. Later steps need a scheduler, which does not
        exist yet: they are logged and counted as not scheduled, never sent early."""
        now = self._clock()
        name, step = next(iter(flow.steps.items()))
        trigger = Trigger(envelope.store_id, envelope.customer_id, flow.name, instance, envelope.id)
        entry = LedgerEntry.open(trigger, name, step.channels[0], now, flow.purpose, flow.priority)
        if (recalled := self._delivery.recall(entry.key)) is not None:
            return recalled
        for later in list(flow.steps)[1:]:
            metrics.STEPS_NOT_SCHEDULED.labels(flow.name, later).inc()
            log.info("step_not_scheduled", flow=flow.name, step=later, message_id=entry.message_id)
        if (miss := audience_miss(flow.audience, facts)) is not None:
            log.info("not_in_audience", flow=flow.name, message_id=entry.message_id, detail=miss)
            return await self._delivery.suppress(entry, NOT_IN_AUDIENCE)
        if (wait := flow.delay + step.delay) > timedelta(0):
            return await self._delivery.delay(entry, now + wait, FLOW_DELAY)
        request = SendRequest.for_step(flow, name, entry.key)
        recipient = self._recipient(envelope, contact)
        decision = decide_send(
            request, recipient, self._history(envelope, now), self._policy_for(envelope.store_id), now
        )
        fmt = self._composer.formats(envelope.store_id, contact)
        view = flow_view(MessageInputs(), fmt, name, now)

        def on(channel: Channel) -> Step:
            subject = step.subject if channel is Channel.EMAIL else None
            return Step(name, channel, step.template_for(channel), subject, step.optional)

        offer = Offer.of(step.offer) if step.offer is not None else None
        return await self._carry_out(decision, entry, flow.purpose, contact, view, on, offer)

    # --- shared ----------------------------------------------------------------------------------

    async def _carry_out(
        self,
        decision: Decision,
        entry: LedgerEntry,
        purpose: Purpose,
        contact: Contact | None,
        view: dict[str, Any],
        step_on: Callable[[Channel], Step],
        offer: Offer | None,
    ) -> LedgerEntry | None:
        if isinstance(decision, Suppress):
            return await self._delivery.suppress(
                replace(entry, channel=decision.channel or entry.channel), decision.reason
            )
        if isinstance(decision, Delay):
            return await self._delivery.delay(
                replace(entry, channel=decision.channel), decision.until, decision.reason
            )
        entry = replace(entry, channel=decision.channel)
        step = step_on(decision.channel)
        # The coupon exists before the message is written, so the code in it is a stored one.
        coupon = self._issue(offer, entry, contact) if offer is not None else None
        draft = Draft(
            entry.store_id, entry.customer_id, entry.flow, purpose, step, entry.message_id, contact, view, coupon
        )
        content = self._composer.compose(draft)
        message = Outbound(
            message_id=entry.message_id,
            store_id=entry.store_id,
            customer_id=entry.customer_id,
            flow=entry.flow,
            step=step.name,
            channel=step.channel,
            to=decision.to,
            text=content.rendered.text,
            subject=content.rendered.subject,
            html=content.rendered.html,
            headers=content.headers,
            reply_to=content.reply_to,
        )
        return await self._delivery.send(entry, message)

    def _issue(self, offer: Offer, entry: LedgerEntry, contact: Contact | None) -> Coupon:
        if self._coupons is None:
            raise RuntimeError(f"flow {entry.flow} has an offer but the messenger has no coupon store")
        store = self._composer.store(entry.store_id)
        coupon = coupon_service.issue(
            self._coupons,
            offer,
            store,
            customer_id=entry.customer_id,
            idempotency_key=entry.key,
            message_id=entry.message_id,
            flow=entry.flow,
            timezone=(contact.timezone if contact else None) or store.default_timezone,
            now=self._clock(),
        )
        metrics.COUPONS.labels("issued").inc()
        return coupon

    def _recipient(
        self,
        envelope: Envelope,
        contact: Contact | None,
        trigger_email: str | None = None,
        trigger_phone: str | None = None,
    ) -> Recipient:
        suppressions = self._suppressions.get(envelope.store_id, envelope.customer_id) if self._suppressions else None
        extra = {"suppressions": suppressions} if suppressions is not None else {}
        return Recipient.of(
            contact,
            store_id=envelope.store_id,
            customer_id=envelope.customer_id,
            trigger_email=trigger_email,
            trigger_phone=trigger_phone,
            **extra,
        )

    def _history(self, envelope: Envelope, now: datetime) -> list[PastSend]:
        return self._delivery.history(envelope.store_id, envelope.customer_id, now - HISTORY_SPAN)

    def _policy_for(self, store_id: str) -> SendPolicy:
        return replace(self._policy, default_timezone=self._composer.store(store_id).default_timezone)
