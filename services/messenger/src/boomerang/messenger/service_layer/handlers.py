"""What the messenger does with each event it consumes.

- `commerce.events.v1`: `CustomerIdentified` updates the contact card; `OrderPlaced` redeems the
  coupons it names and runs the event-started flows (the receipt).
- `customer.segments.v1`: `SegmentChanged` starts the segment flows whose trigger it matches
  (win-back, VIP welcome, neutral nurture) and ends those with `exit.left_segment` it leaves.
- Any event named in a flow's `exit.events` (an order) cancels the customer's delayed steps of
  that flow (`MessageSuppressed(reason="exited")`).
- `send_due` re-decides a delayed step the scheduler claimed, at the moment it really goes; a
  sent step writes the flow's next step as delayed (`schedule_next`).
- `feedback.events.v1`: `ProviderEventReceived` updates the customer's suppression list.
- With `lifecycle` (`service_layer.lifecycle_triggers`): orders, refunds and birthdays go into
  the customer's record, an order starts VIP milestones and replenishment reminders, and the
  scheduler's calendar sweep the birthday and anniversary flows; all are sent by `send_due`.

Every step goes through `domain.sending.decide_send` (consent, suppressions, holdout, timing,
caps) and then `Delivery` (the ledger before the provider). A key already settled in the ledger
is not decided again, so a redelivered trigger cannot turn a holdout or a cap into a send.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from boomerang.messenger import metrics
from boomerang.messenger.domain.audience import EXITED, NOT_IN_AUDIENCE, CustomerFacts, audience_miss
from boomerang.messenger.domain.caps import DEFAULT_CAPS, PastSend
from boomerang.messenger.domain.contacts import Contact, identify
from boomerang.messenger.domain.content import MAX_PRODUCTS, MessageInputs, Product, by_category, flow_view
from boomerang.messenger.domain.coupons import Coupon, Offer
from boomerang.messenger.domain.flow_definitions import (
    AfterEventTrigger,
    BroadcastTrigger,
    EventTrigger,
    FlowDefinition,
    FlowSet,
    ReplenishmentTrigger,
    SegmentTrigger,
)
from boomerang.messenger.domain.flows import FLOWS, RECEIPT, Channel, Flow, Purpose, Step, flows_triggered_by
from boomerang.messenger.domain.messages import LedgerEntry, Outbound, State, Trigger
from boomerang.messenger.domain.policy import NO_ADDRESS
from boomerang.messenger.domain.recommendations import recommend
from boomerang.messenger.domain.replenishment import written_by
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
from boomerang.messenger.domain.timing import LATE_LIMIT, TOO_LATE, counted_from, due_after
from boomerang.messenger.flows import default_flows
from boomerang.messenger.service_layer import coupons as coupon_service
from boomerang.messenger.service_layer.batching import Batched
from boomerang.messenger.service_layer.composing import Composer, Draft
from boomerang.messenger.service_layer.delivery import Delivery
from boomerang.messenger.service_layer.lifecycle_triggers import LIFECYCLE_EVENTS, LifecycleTriggers
from boomerang.messenger.service_layer.ports import (
    Campaigns,
    Contacts,
    CouponRepository,
    PlacedOrder,
    Recommendations,
    SegmentMembers,
    Suppressions,
)
from boomerang.shared.events import (
    CustomerIdentified,
    Envelope,
    Event,
    OrderPlaced,
    ProductViewed,
    ProviderEventReceived,
    SegmentChanged,
)
from boomerang.shared.logs import get_logger

log = get_logger(__name__)
FLOW_DELAY = "flow_delay"  # a Delay reason of our own: the flow or step says "later"
# A delayed step the scheduler cannot send any more: its flow or step is gone or switched off,
# or its content needs the trigger event, which the ledger does not keep (the receipt).
NOT_SCHEDULABLE = "not_schedulable"
TRANSACTIONAL_PRIORITY = 100  # receipts are never capped; the number only orders the history
# How far back the caps look: the longest default window. Longer store caps need a longer one.
HISTORY_SPAN = max(rule.window for rule in DEFAULT_CAPS)
# Events parsed only to learn the customer's interests (recommendations).
_LEARNT_FROM = (ProductViewed.event_type,)


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
        recommendations: Recommendations | None = None,
        segment_members: SegmentMembers | None = None,
        campaigns: Campaigns | None = None,
        lifecycle: LifecycleTriggers | None = None,  # milestones, replenishment, date flows
        late_limit: timedelta | None = LATE_LIMIT,  # None on event time (see domain.timing.due_after)
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
        self._policies: dict[str, SendPolicy] = {}  # per store: its time zone (the stores are few)
        self._recommendations = recommendations
        # A consumer batch's orders are counted in one transaction (see service_layer.batching).
        self._count_orders: Batched[PlacedOrder, bool] = Batched(self._record_orders)
        self._segment_members = segment_members
        self._campaigns = campaigns
        self._lifecycle = lifecycle
        self._late_limit = late_limit

    async def handle(self, envelope: Envelope) -> None:
        metrics.EVENTS.labels(envelope.type).inc()
        await self.exit_flows(envelope)
        if envelope.type == SegmentChanged.event_type:
            await self.segment_changed(envelope, envelope.event())  # type: ignore[arg-type]
            return
        if envelope.type == ProviderEventReceived.event_type:
            self.provider_event(envelope, envelope.event())  # type: ignore[arg-type]
            return
        flows = flows_triggered_by(envelope.type, self._flows)
        later = self._after_event_flows(envelope)
        parsed = (CustomerIdentified.event_type, OrderPlaced.event_type, *_LEARNT_FROM, *LIFECYCLE_EVENTS)
        if envelope.type not in parsed and not flows and not later:
            return  # page views, surveys and the like: not parsed, so unknown types are not poison
        event = envelope.event()
        if isinstance(event, CustomerIdentified):
            self.customer_identified(envelope, event)
        if isinstance(event, OrderPlaced):
            self.redeem_coupons(envelope, event)
        for flow in flows:
            await self.run_flow(flow, envelope, event)
        await self._delivery.publish([await self.schedule_after(flow, envelope, event) for flow in later])
        await self.learn(envelope, event)  # after the receipt: its recommendations come from other orders
        if self._lifecycle is not None:  # the customer's record; VIP milestones, replenishment
            await self._delivery.publish(await self._lifecycle.handle(envelope, event))

    def customer_identified(self, envelope: Envelope, event: CustomerIdentified) -> None:
        current = self._contacts.get(envelope.store_id, envelope.customer_id)
        self._contacts.save(identify(current, envelope.store_id, envelope.customer_id, event))

    # --- recommendations: what customers buy together, and what each one likes ---------------

    async def learn(self, envelope: Envelope, event: Event) -> None:
        """Count an order into the co-purchase data (once per order id) and remember the
        customer's categories, bought or viewed."""
        if self._recommendations is None:
            return
        if isinstance(event, OrderPlaced):
            await self._count_orders(PlacedOrder(envelope.store_id, envelope.customer_id, event))
        elif isinstance(event, ProductViewed):
            self._recommendations.record_view(envelope.store_id, envelope.customer_id, event)

    def _record_orders(self, orders: Sequence[PlacedOrder]) -> list[bool]:
        if self._recommendations is None:  # `learn` asks only when there are recommendations
            return [False] * len(orders)
        return self._recommendations.record_orders(orders, self._clock())

    def recommendations_for(self, envelope: Envelope, order: OrderPlaced) -> list[Product]:
        if self._recommendations is None or not order.lines:
            return []
        known = self._recommendations.neighbourhood(
            envelope.store_id, envelope.customer_id, order.lines, MAX_PRODUCTS
        )
        picked = recommend(
            order.lines, known.counts, known.catalogue, known.interests, MAX_PRODUCTS, known.bought_before
        )
        return [product.as_product() for product in picked]

    def _receipt_extras(self, flow: Flow, envelope: Envelope, event: Event) -> tuple[list[Product], ...]:
        # Only the receipt's view takes recommendations (`domain.receipt.receipt_view`).
        if flow.name != RECEIPT.name or not isinstance(event, OrderPlaced):
            return ()
        return (self.recommendations_for(envelope, event),)

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
        view = flow.view(event, contact, *self._receipt_extras(flow, envelope, event))
        settled = []
        for step in flow.steps:
            entry = LedgerEntry.open(trigger, step.name, step.channel, now, flow.purpose, priority)
            if (recalled := await self._delivery.recall(entry.key)) is not None:
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

    # --- exit conditions --------------------------------------------------------------------------

    async def exit_flows(self, envelope: Envelope) -> None:
        """Cancel the customer's delayed steps of flows this event stops: `exit.events` (an
        order stops the win-back) and `exit.left_segment` (a segment change away from the
        flow's segment). A step the scheduler already holds is not stopped (it is going out)."""
        flows = self._flow_files.for_store(envelope.store_id)
        stopping = {flow.name: flow for flow in flows.stopped_by(envelope.type)}
        event = envelope.event() if stopping or envelope.type == SegmentChanged.event_type else None
        if isinstance(event, SegmentChanged):
            stopping.update({flow.name: flow for flow in flows.enabled if _leaves(flow, event)})
        if not stopping:
            return
        # The exit stops the steps due after it happened (business time); one due before goes out,
        # as it would have had the exit been read late. On event time the segmenter publishes a
        # change away long after the replay passed the steps before it.
        cancelled = [
            self._delivery.cancel(entry, EXITED)
            for entry in self._delivery.delayed_for(envelope.store_id, envelope.customer_id)
            if entry.flow in stopping
            and _same_instance(stopping[entry.flow], entry, event)
            and not (entry.due_at is not None and entry.due_at <= envelope.time)
        ]
        await self._delivery.publish(cancelled)

    # --- segment-started flows (win-back, VIP welcome, neutral nurture) ---------------------------

    async def segment_changed(self, envelope: Envelope, event: SegmentChanged) -> None:
        facts = self.record_segment(envelope, event)
        flows = [
            flow
            for flow in self._flow_files.for_store(envelope.store_id).started_by(SegmentChanged.event_type)
            if isinstance(flow.trigger, SegmentTrigger) and flow.trigger.matches(event)
        ]
        if not flows:
            return
        contact = self._contacts.get(envelope.store_id, envelope.customer_id)
        # One start per segment change: the segmenter's business time names it, so a redelivery
        # or a replay of the same change is the same trigger instance.
        instance = f"{event.to_segment}@{event.changed_at.isoformat()}"
        settled = []
        for flow in flows:  # highest priority first, so the caps let the more important one go
            settled.append(await self.start_flow(flow, envelope, instance, contact, facts))
        await self._delivery.publish(settled)

    def record_segment(self, envelope: Envelope, event: SegmentChanged) -> CustomerFacts:
        """Remember the customer's new segment (broadcast audiences); their facts with it: every
        segment they are in now, whatever the dimension (a VIP who lapses is in both)."""
        changed = CustomerFacts(
            segments=frozenset({event.to_segment}), orders=event.orders, net_revenue=event.revenue
        )
        if self._segment_members is None:
            return changed
        dimension = event.dimension or SegmentTrigger.dimension_of(event.to_segment) or "lifecycle"
        self._segment_members.record(
            envelope.store_id,
            envelope.customer_id,
            dimension,
            event.to_segment,
            event.changed_at,
            event.orders,
            event.revenue,
        )
        known = self._segment_members.facts_of(envelope.store_id, envelope.customer_id)
        # A late replay of an older change: the stored, newer segment stands, the change's own too.
        return replace(changed, segments=changed.segments | known.segments) if known else changed

    async def start_flow(
        self,
        flow: FlowDefinition,
        envelope: Envelope,
        instance: str,
        contact: Contact | None,
        facts: CustomerFacts,
    ) -> LedgerEntry | None:
        """The flow's first step for this customer; once it is sent, `schedule_next` writes the
        next one as delayed."""
        now = self._clock()
        name, step = next(iter(flow.steps.items()))
        trigger = Trigger(envelope.store_id, envelope.customer_id, flow.name, instance, envelope.id)
        entry = LedgerEntry.open(trigger, name, step.channels[0], now, flow.purpose, flow.priority)
        if (recalled := await self._delivery.recall(entry.key)) is not None:
            return recalled
        if (miss := audience_miss(flow.audience, facts)) is not None:
            log.info("not_in_audience", flow=flow.name, message_id=entry.message_id, detail=miss)
            return await self._delivery.suppress(entry, NOT_IN_AUDIENCE)
        if (wait := flow.delay + step.delay) > timedelta(0):
            # Counted from the change's business time, as time-after-event steps are: a segmenter
            # running behind (a replay on event time) must not push the step past its moment. Kept
            # at that moment even when it has passed (not `due_after`'s "now, then"), so an exit
            # can tell it came first.
            if due_after(envelope.time, wait, now, self._late_limit) is None:
                return await self._delivery.suppress(entry, TOO_LATE)
            due = counted_from(envelope.time, now, self._late_limit) + wait
            return await self._delivery.delay(entry, due, FLOW_DELAY)
        return await self._decide_step(flow, entry, contact, claimed=False)

    # --- time-after-event flows (feedback request, checkout abandonment) ---------------------------

    def _after_event_flows(self, envelope: Envelope) -> list[FlowDefinition]:
        flows = self._flow_files.for_store(envelope.store_id).started_by(envelope.type)
        return [flow for flow in flows if isinstance(flow.trigger, AfterEventTrigger)]

    async def schedule_after(self, flow: FlowDefinition, envelope: Envelope, event: Event) -> LedgerEntry | None:
        """The flow's first step, written as delayed (`after` the event happened, plus the flow's
        and step's delays; `domain.timing.due_after`), with the event kept for its content; the
        scheduler decides and sends it. A step whose moment passed long ago is suppressed
        (`too_late`). Audience conditions are not checked: these flows have none, and no facts
        come with them."""
        trigger = flow.trigger
        assert isinstance(trigger, AfterEventTrigger)
        now = self._clock()
        name, step = next(iter(flow.steps.items()))
        instance = str(getattr(event, trigger.instance))
        opened = Trigger(envelope.store_id, envelope.customer_id, flow.name, instance, envelope.id)
        entry = LedgerEntry.open(opened, name, step.channels[0], now, flow.purpose, flow.priority)
        if (recalled := await self._delivery.recall(entry.key)) is not None:
            return recalled
        due = due_after(envelope.time, trigger.after + flow.delay + step.delay, now, self._late_limit)
        if due is None:
            return await self._delivery.suppress(entry, TOO_LATE)
        entry = replace(entry, trigger_data=envelope.to_bytes().decode())
        return await self._delivery.delay(entry, due, FLOW_DELAY)

    # --- the scheduler's side: delayed steps when they are due --------------------------------------

    async def send_due(self, entry: LedgerEntry) -> LedgerEntry | None:
        """A delayed step the scheduler claimed (now pending), decided again at the moment it
        really goes: consent, suppressions, caps and windows may have changed since."""
        if entry.unconfirmed_message is not None:  # a send that awaited its lookup (service_layer.delivery)
            settled = await self._delivery.send_unconfirmed(entry)
            if settled.state is State.SENT and (sent_in := self._flow_of(entry)) is not None:
                await self.schedule_next(sent_in, settled)
            return settled
        flow = self._definition_of(entry)
        if entry.recipient is not None:  # written down before a crash: did the provider get it?
            if (found := await self._delivery.found_at_provider(entry)) is not None:
                if flow is not None and found.state is State.SENT:
                    await self.schedule_next(flow, found)
                return found
        if flow is None:
            log.warning("not_schedulable", message_id=entry.message_id, flow=entry.flow, step=entry.step)
            return self._delivery.suppress_claimed(entry, NOT_SCHEDULABLE)
        contact = self._contacts.get(entry.store_id, entry.customer_id)
        return await self._decide_step(flow, entry, contact, claimed=True)

    def _flow_of(self, entry: LedgerEntry) -> FlowDefinition | None:
        """The entry's flow, if it is enabled and still has the entry's step."""
        try:
            flow = self._flow_files.for_store(entry.store_id).get(entry.flow)
        except KeyError:
            return None
        return flow if flow.enabled and entry.step in flow.steps else None

    def _definition_of(self, entry: LedgerEntry) -> FlowDefinition | None:
        """The entry's flow if its step can be written without the trigger event."""
        if (flow := self._flow_of(entry)) is None:
            return None
        if isinstance(flow.trigger, SegmentTrigger | BroadcastTrigger):
            return flow
        if self._lifecycle is not None and self._lifecycle.runs(flow):
            return flow
        after_event = isinstance(flow.trigger, AfterEventTrigger) and entry.trigger_data is not None
        return flow if after_event else None

    async def schedule_next(self, flow: FlowDefinition, sent: LedgerEntry) -> None:
        """The step after `sent`, written as delayed, due its `delay` after `sent` went out.
        Same trigger instance, so its idempotency key is the same on every replay."""
        names = list(flow.steps)
        if sent.step not in names or (at := names.index(sent.step) + 1) == len(names):
            return
        name, step = names[at], flow.steps[names[at]]
        now = self._clock()
        trigger = Trigger(sent.store_id, sent.customer_id, flow.name, sent.trigger_id, sent.trigger_event_id)
        entry = LedgerEntry.open(trigger, name, step.channels[0], now, flow.purpose, flow.priority)
        entry = replace(entry, trigger_data=sent.trigger_data)
        await self._delivery.delay(entry, (sent.sent_at or now) + step.delay, FLOW_DELAY)

    async def _decide_step(
        self, flow: FlowDefinition, entry: LedgerEntry, contact: Contact | None, *, claimed: bool
    ) -> LedgerEntry | None:
        now = self._clock()
        step = flow.steps[entry.step]
        request = SendRequest.for_step(flow, entry.step, entry.key)
        event = _trigger_event(entry)
        recipient = self._recipient_of(
            entry.store_id, entry.customer_id, contact, getattr(event, "email", None), getattr(event, "phone", None)
        )
        history = self._delivery.history(entry.store_id, entry.customer_id, now - HISTORY_SPAN)
        decision = decide_send(request, recipient, history, self._policy_for(entry.store_id), now)
        fmt = self._composer.formats(entry.store_id, contact)
        view = flow_view(self._inputs_for(flow, entry, event), fmt, entry.step, now)

        def on(channel: Channel) -> Step:
            subject = step.subject if channel is Channel.EMAIL else None
            return Step(entry.step, channel, step.template_for(channel), subject, step.optional)

        offer = Offer.of(step.offer) if step.offer is not None else None
        settled = await self._carry_out(decision, entry, flow.purpose, contact, view, on, offer, claimed=claimed)
        if settled is not None and settled.state is State.SENT:
            await self.schedule_next(flow, settled)
        return settled

    def _inputs_for(self, flow: FlowDefinition, entry: LedgerEntry, event: Event | None) -> MessageInputs:
        """What the step shows: its trigger's content and, for a `content: by_category` step (the
        nurture series), the customer's categories and the flow's guides (links under the store)."""
        inputs = self._trigger_inputs(flow, entry, event)
        if flow.steps[entry.step].content != "by_category":
            return inputs
        store_id, customer_id = entry.store_id, entry.customer_id
        known = self._recommendations.categories_of(store_id, customer_id) if self._recommendations else []
        return by_category(inputs, known, flow.guides, self._composer.store(store_id).url)

    def _trigger_inputs(self, flow: FlowDefinition, entry: LedgerEntry, event: Event | None) -> MessageInputs:
        if self._lifecycle is not None and (inputs := self._lifecycle.inputs_for(flow, entry, event)) is not None:
            return inputs
        if isinstance(flow.trigger, BroadcastTrigger):
            found = self._campaigns.get(entry.store_id, entry.trigger_id) if self._campaigns else None
            return MessageInputs(campaign=found.campaign if found else None)
        return MessageInputs.from_event(event)

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
        *,
        claimed: bool = False,  # the scheduler's: already in the ledger, pending and ours
    ) -> LedgerEntry | None:
        if isinstance(decision, Suppress):
            if claimed:
                return self._delivery.suppress_claimed(entry, decision.reason)
            return await self._delivery.suppress(
                replace(entry, channel=decision.channel or entry.channel), decision.reason
            )
        if isinstance(decision, Delay):
            if claimed:
                return self._delivery.delay_claimed(entry, decision.channel, decision.until, decision.reason)
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
        if claimed:
            return await self._delivery.send_claimed(entry, message)
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
        return self._recipient_of(envelope.store_id, envelope.customer_id, contact, trigger_email, trigger_phone)

    def _recipient_of(
        self,
        store_id: str,
        customer_id: str,
        contact: Contact | None,
        trigger_email: str | None = None,
        trigger_phone: str | None = None,
    ) -> Recipient:
        suppressions = self._suppressions.get(store_id, customer_id) if self._suppressions else None
        extra = {"suppressions": suppressions} if suppressions is not None else {}
        return Recipient.of(
            contact,
            store_id=store_id,
            customer_id=customer_id,
            trigger_email=trigger_email,
            trigger_phone=trigger_phone,
            **extra,
        )

    def _history(self, envelope: Envelope, now: datetime) -> list[PastSend]:
        return self._delivery.history(envelope.store_id, envelope.customer_id, now - HISTORY_SPAN)

    def _policy_for(self, store_id: str) -> SendPolicy:
        policy = self._policies.get(store_id)
        if policy is None:
            zone = self._composer.store(store_id).default_timezone
            policy = self._policies[store_id] = replace(self._policy, default_timezone=zone)
        return policy


def _leaves(flow: FlowDefinition, change: SegmentChanged) -> bool:
    """Whether the change takes the customer out of the segment that started `flow`."""
    trigger = flow.trigger
    if not flow.exit.left_segment or not isinstance(trigger, SegmentTrigger):
        return False
    dimension = trigger.dimension or trigger.dimension_of(trigger.to)
    if change.dimension is not None and change.dimension != dimension:
        return False
    return change.to_segment != trigger.to and trigger.dimension_of(change.to_segment) == dimension


def _same_instance(flow: FlowDefinition, entry: LedgerEntry, event: Event | None) -> bool:
    """An exit event that names the flow's trigger instance (an order's cancellation, for the
    feedback request on that order) stops that instance only; any other stops them all."""
    trigger = flow.trigger
    if isinstance(trigger, ReplenishmentTrigger) and isinstance(event, OrderPlaced):
        return not written_by(entry.trigger_id, event.order_id)  # its own order, redelivered
    if event is None or not isinstance(trigger, EventTrigger | AfterEventTrigger):
        return True
    named = getattr(event, trigger.instance, None)
    return named is None or str(named) == entry.trigger_id


def _trigger_event(entry: LedgerEntry) -> Event | None:
    """The order or checkout a time-after-event step kept, for its content and address."""
    if entry.trigger_data is None:
        return None
    return Envelope.from_bytes(entry.trigger_data.encode()).event()
