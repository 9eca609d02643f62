"""The one place that wires adapters into the use case, and names every topic and table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import faust

from boomerang.segmenter.adapters.clocks import EventTimeClock, utc_now
from boomerang.segmenter.adapters.faust_io import TableCustomerStates, TableDueTimes, TopicSegmentEvents
from boomerang.segmenter.adapters.models import StoreModels
from boomerang.segmenter.adapters.policy_files import PolicyFiles
from boomerang.segmenter.adapters.snapshots import SqlSnapshots
from boomerang.segmenter.domain import SegmentPolicy
from boomerang.segmenter.service_layer.segmentation import Segmentation
from boomerang.segmenter.service_layer.snapshots import SnapshotBuffer
from boomerang.segmenter.settings import SegmenterSettings
from boomerang.shared.db import make_engine
from boomerang.shared.kafka import COMMERCE_EVENTS, CUSTOMER_SEGMENTS, FEEDBACK_EVENTS, TopicSpec, dead_letter_topic
from boomerang.shared.kafka.topics import CUSTOMER_SCORES
from boomerang.shared.kafka.topics import DAY_MS, PARTITIONS

CONSUMER = "segmenter"
CUSTOMERS_TABLE = "customers"
DUE_TABLE = "due"
DEAD_LETTERS = dead_letter_topic(COMMERCE_EVENTS, CONSUMER)
FEEDBACK_DEAD_LETTERS = dead_letter_topic(FEEDBACK_EVENTS, CONSUMER)
# The sweep timer's "this customer is due at <now>" ticks: keyed and partitioned like the
# source, so the agent that applies them writes the co-partitioned tables.
SWEEP = TopicSpec("boomerang-segmenter.sweep.v1", {"cleanup.policy": "delete", "retention.ms": str(DAY_MS)})
# Every store's fitted scoring model (StoreModel JSON), keyed by store id; every worker reads it all.
MODELS = TopicSpec("boomerang-segmenter.models.v1", {"cleanup.policy": "compact"}, partitions=1)
TOPICS: tuple[TopicSpec, ...] = (
    COMMERCE_EVENTS,
    CUSTOMER_SEGMENTS,
    CUSTOMER_SCORES,
    DEAD_LETTERS,
    SWEEP,
    MODELS,
    FEEDBACK_EVENTS,
    FEEDBACK_DEAD_LETTERS,
)


def app_id(settings: SegmenterSettings) -> str:
    # The consumer group and the changelog topics are named after the app id, so the
    # topic prefix in it keeps test runs (and side-by-side installs) apart.
    return f"{settings.common.topic_prefix}boomerang-segmenter"


@dataclass
class Container:
    # One agent reads both sources: commerce.events.v1 and feedback.events.v1 share the key and
    # the partition count, so partition p of each (and of the tables) lands on the same worker.
    source: faust.TopicT
    commerce_topic: str  # the source's name readiness checks for assigned partitions
    segments: faust.TopicT
    dead_letters: faust.TopicT
    sweep: faust.TopicT
    scores: faust.TopicT
    models_topic: faust.TopicT
    models: StoreModels
    customers: faust.Table
    due: TableDueTimes
    policies: PolicyFiles
    segmentation: Segmentation
    snapshots: SnapshotBuffer
    clock: Callable[[], datetime]  # what the timers take for `now` (settings.clock)


def wire(app: faust.App, settings: SegmenterSettings, clock: Callable[[], datetime] = utc_now) -> Container:
    """`clock` is the wall clock; with `settings.clock == "event-time"` the worker's `now` is
    instead the latest business time of the events it read (adapters.clocks)."""
    prefix = settings.common.topic_prefix
    event_time = EventTimeClock(wall=clock) if settings.clock == "event-time" else None
    if event_time is not None:
        clock = event_time

    def raw_topic(spec: TopicSpec) -> faust.TopicT:
        return app.topic(
            spec.named(prefix),
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=spec.partitions,
        )

    commerce, segments, scores, dead_letters, sweep, models_topic, feedback, feedback_dead_letters = (
        raw_topic(spec) for spec in TOPICS
    )
    source = app.topic(
        commerce.get_topic_name(),
        feedback.get_topic_name(),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    models = StoreModels()
    store_options = {"options": {"driver": "rocksdict"}} if settings.table_store == "rocksdb" else {}
    customers = app.Table(
        CUSTOMERS_TABLE,
        partitions=PARTITIONS,
        key_type=bytes,
        value_type=bytes,
        help="CustomerState per store:customer, JSON",
        **store_options,
    )
    due_table = app.Table(
        DUE_TABLE,
        partitions=PARTITIONS,
        key_type=bytes,
        value_type=bytes,
        help="when each store:customer next changes segment with no event, ISO 8601",
        **store_options,
    )
    due = TableDueTimes(due_table)
    policies = PolicyFiles(settings.policy_dir)
    # Written by a thread, off the event loop; the engine connects on the first flush.
    snapshots = SnapshotBuffer(SqlSnapshots(make_engine(settings.database_url)), settings.snapshot_flush_interval_s)
    segmentation = Segmentation(
        states=TableCustomerStates(customers),
        events=TopicSegmentEvents(
            segments,
            {commerce.get_topic_name(): dead_letters, feedback.get_topic_name(): feedback_dead_letters},
            scores,
        ),
        policy=SegmentPolicy(
            remembered_event_ids=settings.remembered_event_ids,
            remembered_order_ids=settings.remembered_order_ids,
        ),
        lifecycle_policies=policies.for_store,
        due=due,
        scorer=models.score,
        score_many=models.score_many,
        clock=clock,
        retry_max_s=settings.publish_retry_max_s,
        snapshots=snapshots,
        feedback_topics=(feedback.get_topic_name(),),
        event_time=None if event_time is None else event_time.saw,
    )
    return Container(
        source,
        commerce.get_topic_name(),
        segments,
        dead_letters,
        sweep,
        scores,
        models_topic,
        models,
        customers,
        due,
        policies,
        segmentation,
        snapshots,
        clock,
    )
