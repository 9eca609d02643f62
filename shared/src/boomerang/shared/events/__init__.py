"""Versioned event schemas and the envelope that carries them on every topic."""

from boomerang.shared.events.envelope import Envelope, Event, UnknownEventType, event_class
from boomerang.shared.events.commerce import (
    CustomEventTracked,
    CustomerIdentified,
    OrderLine,
    OrderPlaced,
    PageViewed,
    ProductViewed,
)
from boomerang.shared.events.segments import SegmentChanged
from boomerang.shared.events.messages import MessageFailed, MessageSent, MessageSuppressed
from boomerang.shared.events.feedback import ProviderEventReceived

__all__ = [
    "CustomEventTracked",
    "CustomerIdentified",
    "Envelope",
    "Event",
    "MessageFailed",
    "MessageSent",
    "MessageSuppressed",
    "OrderLine",
    "OrderPlaced",
    "PageViewed",
    "ProductViewed",
    "ProviderEventReceived",
    "SegmentChanged",
    "UnknownEventType",
    "event_class",
]
