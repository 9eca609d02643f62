"""The one place where adapters are wired into the handlers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
import contextlib
import functools
from dataclasses import dataclass, field
from datetime import timedelta

from aiokafka import ConsumerRecord
from sqlalchemy.engine import Engine

from boomerang.messenger.adapters.customer_orders import SqlCustomerOrders
from boomerang.messenger.adapters.outcomes import KafkaOutcomes
from boomerang.messenger.adapters.recommendations import SqlRecommendations
from boomerang.messenger.adapters.rendering import TemplateRenderer
from boomerang.messenger.adapters.segments import SqlCampaigns, SqlSegmentMembers
from boomerang.messenger.adapters.sendgrid import Sender, SendGridEmail
from boomerang.messenger.adapters.store import SqlContacts, SqlCoupons, SqlSendLedger, SqlSuppressions
from boomerang.messenger.adapters.twilio import TwilioSms
from boomerang.messenger.domain.flows import Channel
from boomerang.messenger.domain.timing import LATE_LIMIT
from boomerang.messenger.flows import FlowFiles
from boomerang.messenger.migrations import upgrade
from boomerang.messenger.service_layer.composing import Composer
from boomerang.messenger.service_layer.delivery import Delivery
from boomerang.messenger.service_layer.handlers import Messenger
from boomerang.messenger.service_layer.lifecycle_triggers import LifecycleTriggers
from boomerang.messenger.service_layer.ports import OutcomePublisher, Provider
from boomerang.messenger.service_layer.retry import RetryPolicy
from boomerang.messenger.service_layer.scheduler import Scheduler
from boomerang.messenger.settings import MessengerSettings
from boomerang.shared.db import make_engine, ping
from boomerang.shared.kafka import (
    COMMERCE_EVENTS,
    CUSTOMER_SEGMENTS,
    FEEDBACK_EVENTS,
    MESSAGE_EVENTS,
    EventConsumer,
    EventPublisher,
    ensure_topics,
)
from boomerang.shared.clocks import EventTimeClock, utc_now
from boomerang.shared.events import Envelope
from boomerang.shared.logs import get_logger

log = get_logger(__name__)
STOP_GRACE_S = 10.0
# What starts flows (orders, segment changes) and what stops sends (feedback: unsubscribes,
# bounces, complaints, STOP), in one consumer group.
CONSUMED = (COMMERCE_EVENTS, CUSTOMER_SEGMENTS, FEEDBACK_EVENTS)


class _Watermark:
    """Keeps the event-time clock's low watermark over the commerce topic's partitions: each
    commerce event's time and partition before the handler runs (`saw`), and after each fetch
    which partitions still have records to read (`unread`). So a checkout reminder is not due
    while its order waits on a partition read later. Only the shop's events move it: feedback
    carries today's dates, and segment changes come from the segmenter's own clock, which
    follows the same events."""

    def __init__(self, clock: EventTimeClock, commerce_topic: str) -> None:
        self._clock = clock
        self._topic = commerce_topic

    def saw(self, record: ConsumerRecord, envelope: Envelope) -> None:
        if envelope.type.startswith("commerce."):
            self._clock.saw(envelope.time, source=(record.topic, record.partition))

    def unread(self, partitions: set[tuple[str, int]]) -> None:
        self._clock.unread(p for p in partitions if p[0] == self._topic)


@dataclass
class Runtime:
    settings: MessengerSettings
    engine: Engine
    ledger: SqlSendLedger
    messenger: Messenger
    publisher: EventPublisher
    consumer: EventConsumer
    email: SendGridEmail
    sms: TwilioSms
    scheduler: Scheduler | None = None
    _task: asyncio.Task | None = field(default=None, init=False)
    _scheduling: asyncio.Task | None = field(default=None, init=False)
    _stop_scheduling: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _consuming: bool = field(default=False, init=False)

    async def start(self) -> None:
        await self.publisher.start()
        await self.email.start()  # the SDK process, before the first order waits for it
        # Joining the group can wait out a dead member's session after a crash: do it in the
        # background so /healthz answers meanwhile and /readyz says why it is not ready.
        self._task = asyncio.create_task(self._consume(), name="messenger-consumer")
        if self.scheduler is not None:
            every = self.settings.scheduler_interval_seconds
            self._scheduling = asyncio.create_task(
                self.scheduler.run(every, self._stop_scheduling), name="messenger-scheduler"
            )

    async def stop(self) -> None:
        self._stop_scheduling.set()
        if self._scheduling is not None:
            # Let the batch in hand finish; an entry cut off stays pending and its lease recovers it.
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError, Exception):
                await asyncio.wait_for(self._scheduling, STOP_GRACE_S)
        if self._task is not None and not self._consuming:
            self._task.cancel()  # still creating topics or joining the group: nothing in hand
        # The consumer lets the batches in hand finish and commits them, for up to the grace;
        # what it could not commit is redelivered and deduplicated.
        await self.consumer.stop(STOP_GRACE_S)
        if self._task is not None:
            self._task.cancel()  # done by now, unless a batch outlasted the grace
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.publisher.stop()
        await self.email.close()
        await self.sms.close()
        self.engine.dispose()

    async def database_ok(self) -> bool:
        return await asyncio.to_thread(ping, self.engine)

    async def consumer_ok(self) -> bool:
        return self._task is not None and not self._task.done() and self.consumer.assigned

    async def _consume(self) -> None:
        try:
            prefix = self.settings.common.topic_prefix
            await ensure_topics(
                self.settings.common.kafka_bootstrap, prefix, (*CONSUMED, MESSAGE_EVENTS)
            )
            await self.consumer.start()
            self._consuming = True
            await self.consumer.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("consumer_stopped", error=repr(exc))  # /readyz turns not ready
            raise


def bootstrap(
    settings: MessengerSettings,
    *,
    providers: Mapping[Channel, Provider] | None = None,
    outcomes: OutcomePublisher | None = None,
) -> Runtime:
    """Builds the runtime; call it inside the running event loop (the Twilio client's session).
    `providers` and `outcomes` replace SendGrid and Twilio, and Kafka as the outcomes' way out:
    the benchmark's measure of the messenger's own work leaves both edges out."""
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    ledger = SqlSendLedger(engine)
    common = settings.common
    publisher = EventPublisher(
        common.kafka_bootstrap, common.topic_prefix, timeout_s=common.kafka_request_timeout_ms / 1000
    )
    timeout = settings.provider_timeout_seconds
    sender = Sender(settings.from_email, settings.from_name, settings.reply_to_email)
    email = SendGridEmail(
        settings.sendgrid_api_key,
        settings.sendgrid_base_url,
        sender,
        timeout,
        settings.provider_threads,
        in_process=settings.sendgrid_in_process,
        idle=settings.sdk_process_idle,
        keep_alive_s=settings.sendgrid_keep_alive_seconds,
        lookup_lag=timedelta(seconds=settings.sendgrid_lookup_lag_seconds),
        email_activity=settings.sendgrid_email_activity,
    )
    sms = TwilioSms(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        settings.twilio_base_url,
        settings.sms_from,
        timeout,
        settings.twilio_status_callback_url,
    )
    clock = EventTimeClock() if settings.clock == "event-time" else utc_now
    late_limit = None if isinstance(clock, EventTimeClock) else LATE_LIMIT
    delivery = Delivery(
        ledger,
        providers or {Channel.EMAIL: email, Channel.SMS: sms},
        outcomes or KafkaOutcomes(publisher),
        clock,
        RetryPolicy(settings.send_attempts, settings.backoff_initial_seconds, settings.backoff_max_seconds),
        timedelta(seconds=settings.reconcile_clock_skew_seconds),
    )
    # Settings do not change while the process runs: each store's profile is built once.
    stores = functools.lru_cache(maxsize=1024)(settings.store)
    composer = Composer(TemplateRenderer(), stores, settings.links, settings.unsubscribe_mailto)
    flow_files = FlowFiles(settings.flows_dir)
    flow_files.check()  # a broken store file stops the start, naming the file and field
    contacts = SqlContacts(engine)
    # VIP milestones, replenishment (on orders) and birthdays, anniversaries (the calendar).
    segment_members = SqlSegmentMembers(engine)
    lifecycle = LifecycleTriggers(
        SqlCustomerOrders(engine),
        delivery,
        ledger.get,
        flow_files,
        contacts,
        stores,
        clock,
        segment_members=segment_members,
        late_limit=late_limit,
    )
    messenger = Messenger(
        contacts,
        delivery,
        composer,
        clock,
        suppressions=SqlSuppressions(engine),
        coupons=SqlCoupons(engine),
        flow_files=flow_files,
        recommendations=SqlRecommendations(engine),
        lifecycle=lifecycle,
        segment_members=segment_members,
        campaigns=SqlCampaigns(engine),
        late_limit=late_limit,
    )
    watermark = (
        _Watermark(clock, COMMERCE_EVENTS.named(common.topic_prefix)) if isinstance(clock, EventTimeClock) else None
    )
    consumer = EventConsumer(
        bootstrap=common.kafka_bootstrap,
        prefix=common.topic_prefix,
        topics=list(CONSUMED),
        group_id=settings.group_id,
        handler=messenger.handle,
        observe=watermark.saw if watermark else None,
        unread=watermark.unread if watermark else None,
        dead_letters=publisher,
        # A fetched batch at once: different customers side by side, one customer's events in order.
        by_key=True,
        max_records=settings.batch_size,
        batches_in_flight=settings.batches_in_flight,
    )
    scheduler = Scheduler(
        messenger,
        delivery,
        batch_size=settings.scheduler_batch_size,
        lease=timedelta(seconds=settings.scheduler_lease_seconds),
        sweep=lifecycle.sweep,
        sweep_every=settings.date_sweep_interval_seconds,
    )
    return Runtime(settings, engine, ledger, messenger, publisher, consumer, email, sms, scheduler)
