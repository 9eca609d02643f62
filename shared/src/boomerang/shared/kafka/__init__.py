"""Kafka helpers: topic catalogue, an acks=all idempotent publisher, an at-least-once consumer."""

from boomerang.shared.kafka.topics import (
    ALL_TOPICS,
    COMMERCE_EVENTS,
    CUSTOMER_SCORES,
    CUSTOMER_SEGMENTS,
    FEEDBACK_EVENTS,
    MESSAGE_EVENTS,
    PRIVACY_ERASURE,
    TopicSpec,
    dead_letter_topic,
    ensure_topics,
)
from boomerang.shared.kafka.publisher import EventPublisher, PublishFailed, Sent
from boomerang.shared.kafka.consumer import EventConsumer

__all__ = [
    "ALL_TOPICS",
    "COMMERCE_EVENTS",
    "CUSTOMER_SCORES",
    "CUSTOMER_SEGMENTS",
    "FEEDBACK_EVENTS",
    "MESSAGE_EVENTS",
    "PRIVACY_ERASURE",
    "EventConsumer",
    "EventPublisher",
    "PublishFailed",
    "Sent",
    "TopicSpec",
    "dead_letter_topic",
    "ensure_topics",
]
