"""What the messenger does with each commerce event."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from boomerang.messenger import metrics
from boomerang.messenger.domain.contacts import identify
from boomerang.messenger.domain.flows import FLOWS, Flow, flows_triggered_by
from boomerang.messenger.domain.messages import LedgerEntry, Outbound, Trigger
from boomerang.messenger.domain.policy import Send, decide
from boomerang.messenger.service_layer.composing import Composer, Draft
from boomerang.messenger.service_layer.delivery import Delivery
from boomerang.messenger.service_layer.ports import Contacts
from boomerang.shared.events import CustomerIdentified, Envelope, Event


class Messenger:
    def __init__(
        self,
        contacts: Contacts,
        delivery: Delivery,
        composer: Composer,
        clock: Callable[[], datetime],
        flows: tuple[Flow, ...] = FLOWS,
    ) -> None:
        self._contacts = contacts
        self._delivery = delivery
        self._composer = composer
        self._clock = clock
        self._flows = flows

    async def handle(self, envelope: Envelope) -> None:
        metrics.EVENTS.labels(envelope.type).inc()
        flows = flows_triggered_by(envelope.type, self._flows)
        if envelope.type != CustomerIdentified.event_type and not flows:
            return  # page views and the like: not parsed, so unknown types are not poison here
        event = envelope.event()
        if isinstance(event, CustomerIdentified):
            self.customer_identified(envelope, event)
        for flow in flows:
            await self.run_flow(flow, envelope, event)

    def customer_identified(self, envelope: Envelope, event: CustomerIdentified) -> None:
        current = self._contacts.get(envelope.store_id, envelope.customer_id)
        self._contacts.save(identify(current, envelope.store_id, envelope.customer_id, event))

    async def run_flow(self, flow: Flow, envelope: Envelope, event: Event) -> None:
        contact = self._contacts.get(envelope.store_id, envelope.customer_id)
        trigger = Trigger(
            envelope.store_id, envelope.customer_id, flow.name, flow.trigger_id(event), envelope.id
        )
        view = flow.view(event, contact)
        decisions = decide(flow, contact, getattr(event, "email", None), getattr(event, "phone", None))
        settled = []
        for decision in decisions:
            entry = LedgerEntry.open(trigger, decision.step.name, decision.step.channel, self._clock())
            if not isinstance(decision, Send):
                settled.append(await self._delivery.suppress(entry, decision.reason))
                continue
            draft = Draft(
                trigger.store_id,
                trigger.customer_id,
                flow.name,
                flow.purpose,
                decision.step,
                entry.message_id,
                contact,
                view,
            )
            content = self._composer.compose(draft)
            message = Outbound(
                message_id=entry.message_id,
                store_id=trigger.store_id,
                customer_id=trigger.customer_id,
                flow=flow.name,
                step=decision.step.name,
                channel=decision.step.channel,
                to=decision.to,
                text=content.rendered.text,
                subject=content.rendered.subject,
                html=content.rendered.html,
                headers=content.headers,
                reply_to=content.reply_to,
            )
            settled.append(await self._delivery.send(entry, message))
        await self._delivery.publish(settled)
