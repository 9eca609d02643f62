"""Versioned event schemas and the envelope that carries them on every topic."""

from boomerang.shared.events.envelope import Envelope, Event, UnknownEventType, event_class
from boomerang.shared.events.commerce import (
    CartViewed,
    CheckoutStarted,
    CustomEventTracked,
    CustomerGrouped,
    CustomerIdentified,
    IdentityLinked,
    OrderCancelled,
    OrderLine,
    OrderPlaced,
    OrderRefunded,
    PageViewed,
    ProductAddedToCart,
    ProductViewed,
    ScreenViewed,
)
from boomerang.shared.events.privacy import ErasureRequested
from boomerang.shared.events.segments import CustomerScored, SegmentChanged
from boomerang.shared.events.messages import MessageFailed, MessageSent, MessageSuppressed
from boomerang.shared.events.feedback import ProviderEventReceived, SurveyAnswered

__all__ = [
    "CartViewed",
    "CheckoutStarted",
    "CustomEventTracked",
    "CustomerGrouped",
    "CustomerIdentified",
    "CustomerScored",
    "Envelope",
    "ErasureRequested",
    "Event",
    "IdentityLinked",
    "MessageFailed",
    "MessageSent",
    "MessageSuppressed",
    "OrderLine",
    "OrderCancelled",
    "OrderPlaced",
    "OrderRefunded",
    "PageViewed",
    "ProductAddedToCart",
    "ProductViewed",
    "ProviderEventReceived",
    "ScreenViewed",
    "SegmentChanged",
    "SurveyAnswered",
    "UnknownEventType",
    "event_class",
]
