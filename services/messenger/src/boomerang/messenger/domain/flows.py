"""Flows as data: what triggers them, and which messages (steps) they send on which channel.

Today there is one flow, the receipt. Audiences, delays, offers and priorities will join these
records as fields; the handlers only ever read them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from boomerang.messenger.domain.contacts import Contact
from boomerang.messenger.domain.receipt import receipt_view
from boomerang.shared.events import Event, OrderPlaced

# Builds the template context of every step from the trigger event and the contact card.
View = Callable[[Any, Contact | None], dict[str, Any]]


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


@dataclass(frozen=True)
class Flow:
    name: str
    trigger: str  # the event type that starts it
    trigger_id_field: str  # the field naming the trigger instance (one send per instance)
    purpose: Purpose
    steps: tuple[Step, ...]
    view: View

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
