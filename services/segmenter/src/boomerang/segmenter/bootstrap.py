"""The one place that wires adapters into the use case, and names every topic and table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import faust

from boomerang.segmenter.adapters.faust_io import TableCustomerStates, TopicSegmentEvents
from boomerang.segmenter.domain import SegmentPolicy
from boomerang.segmenter.service_layer.segmentation import Segmentation
from boomerang.segmenter.settings import SegmenterSettings
from boomerang.shared.kafka import COMMERCE_EVENTS, CUSTOMER_SEGMENTS, TopicSpec, dead_letter_topic
from boomerang.shared.kafka.topics import PARTITIONS

CONSUMER = "segmenter"
CUSTOMERS_TABLE = "customers"
DEAD_LETTERS = dead_letter_topic(COMMERCE_EVENTS, CONSUMER)
TOPICS: tuple[TopicSpec, ...] = (COMMERCE_EVENTS, CUSTOMER_SEGMENTS, DEAD_LETTERS)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def app_id(settings: SegmenterSettings) -> str:
    # The consumer group and the changelog topics are named after the app id, so the
    # topic prefix in it keeps test runs (and side-by-side installs) apart.
    return f"{settings.common.topic_prefix}boomerang-segmenter"


@dataclass
class Container:
    source: faust.TopicT
    segments: faust.TopicT
    dead_letters: faust.TopicT
    customers: faust.Table
    segmentation: Segmentation


def wire(app: faust.App, settings: SegmenterSettings, clock: Callable[[], datetime] = utc_now) -> Container:
    prefix = settings.common.topic_prefix

    def raw_topic(spec: TopicSpec) -> faust.TopicT:
        return app.topic(
            spec.named(prefix),
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=spec.partitions,
        )

    source, segments, dead_letters = (raw_topic(spec) for spec in TOPICS)
    customers = app.Table(
        CUSTOMERS_TABLE,
        partitions=PARTITIONS,
        key_type=bytes,
        value_type=bytes,
        help="CustomerState per store:customer, JSON",
        **({"options": {"driver": "rocksdict"}} if settings.table_store == "rocksdb" else {}),
    )
    segmentation = Segmentation(
        states=TableCustomerStates(customers),
        events=TopicSegmentEvents(segments, dead_letters),
        policy=SegmentPolicy(
            vip_revenue_threshold=settings.vip_revenue_threshold,
            remembered_event_ids=settings.remembered_event_ids,
            remembered_order_ids=settings.remembered_order_ids,
        ),
        clock=clock,
        retry_max_s=settings.publish_retry_max_s,
    )
    return Container(source, segments, dead_letters, customers, segmentation)
