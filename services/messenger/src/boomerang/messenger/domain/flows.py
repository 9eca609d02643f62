"""The flows the handlers run: what triggers them, and which messages (steps) they send on which channel.

Flows are declared as data in `domain.flow_definitions` (YAML files, see `boomerang.messenger.flows`);
`flow_definitions.to_flow` maps an event-started definition onto these records, keeping the full
definition (audience, delays, offers, priority, holdout) in `Flow.definition`. `RECEIPT` is the
default receipt file's mapping, kept as a constant until the handlers load the files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from boomerang.messenger.domain.receipt import receipt_view
from boomerang.shared.events import Event, OrderPlaced

if TYPE_CHECKING:
    from boomerang.messenger.domain.flow_definitions import FlowDefinition

# Builds the template context of every step from the trigger event and the contact card; the
# receipt's also takes the products recommended with the order (`receipt_view`).
View = Callable[..., dict[str, Any]]


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class Purpose(StrEnum):
    # Transactional mail answers something the customer did (a receipt); marketing mail needs
    # consent. SMS needs consent either way.
    TRANSACTIONAL = "transactional"
    MARKETING = "marketing"


@dataclass(frozen=True)
class Step:
    name: str
    channel: Channel
    template: str  # e.g. "receipt/email": the renderer adds the part suffixes
    subject: str | None = None  # a Jinja2 expression over the same view, email only
    # An optional step without an address is simply not part of the flow for that customer;
    # a required one is reported as suppressed, so a missing receipt is visible.
    optional: bool = False
    # Further channels in preference order, for a customer the first cannot reach.
    fallback: tuple[Channel, ...] = ()

    def on(self, channel: Channel) -> Step:
        """This step sent on `channel` instead: templates are named `<template>/<channel>`."""
        if channel is self.channel:
            return self
        base, _, last = self.template.rpartition("/")
        if last != self.channel.value:
            raise ValueError(f"template {self.template!r} does not end in /{self.channel.value}")
        return replace(self, channel=channel, template=f"{base}/{channel.value}", fallback=())


@dataclass(frozen=True)
class Flow:
    name: str
    trigger: str  # the event type that starts it
    trigger_id_field: str  # the field naming the trigger instance (one send per instance)
    purpose: Purpose
    steps: tuple[Step, ...]
    view: View
    definition: FlowDefinition | None = field(default=None, compare=False, repr=False)

    def trigger_id(self, event: Event) -> str:
        return str(getattr(event, self.trigger_id_field))


RECEIPT = Flow(
    name="receipt",
    trigger=OrderPlaced.event_type,
    trigger_id_field="order_id",
    purpose=Purpose.TRANSACTIONAL,
    steps=(
        Step(
            "email",
            Channel.EMAIL,
            "receipt/email",
            subject="Your receipt for order {{ order.id }}",
        ),
        Step("sms", Channel.SMS, "receipt/sms", optional=True),
    ),
    view=receipt_view,
)

FLOWS: tuple[Flow, ...] = (RECEIPT,)


def flows_triggered_by(event_type: str, flows: tuple[Flow, ...] = FLOWS) -> list[Flow]:
    return [flow for flow in flows if flow.trigger == event_type]
