"""The publisher and the at-least-once consumer against the real broker."""

import asyncio
from datetime import datetime, timezone

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from boomerang.shared.events import CustomerIdentified, Envelope
from boomerang.shared.kafka import (
    COMMERCE_EVENTS,
    EventConsumer,
    EventPublisher,
    TopicSpec,
    dead_letter_topic,
    ensure_topics,
)

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 23, tzinfo=timezone.utc)


def identified(customer: str) -> Envelope:
    return Envelope.wrap(
        CustomerIdentified(email=f"{customer}@example.com"), store_id="s1", customer_id=customer, source="test", time=NOW
    )


async def run_consumer_until(consumer: EventConsumer, done: asyncio.Event, timeout: float = 30) -> None:
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait_for(done.wait(), timeout)
    finally:
        await consumer.stop()
        task.cancel()


async def test_published_events_reach_a_consumer_keyed_by_customer(kafka_bootstrap, topic_prefix) -> None:
    publisher = EventPublisher(kafka_bootstrap, topic_prefix)
    await publisher.start()
    sent = [identified(f"c{i}") for i in range(5)]
    await publisher.publish_many(COMMERCE_EVENTS.name, sent)

    seen: list[Envelope] = []
    done = asyncio.Event()

    async def handle(envelope: Envelope) -> None:
        seen.append(envelope)
        if len(seen) == len(sent):
            done.set()

    consumer = EventConsumer(
        bootstrap=kafka_bootstrap, prefix=topic_prefix, topics=[COMMERCE_EVENTS],
        group_id=f"{topic_prefix}g", handler=handle, dead_letters=publisher,
    )
    await run_consumer_until(consumer, done)
    await publisher.stop()
    assert sorted(e.id for e in seen) == sorted(e.id for e in sent)


async def read_all(bootstrap: str, topic: str, want: int, timeout: float = 30) -> list:
    reader = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await reader.start()
    records: list = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(records) < want and asyncio.get_running_loop().time() < deadline:
            batch = await reader.getmany(timeout_ms=500)
            records += [r for rs in batch.values() for r in rs]
    finally:
        await reader.stop()
    return records


async def test_poison_and_failing_messages_go_to_the_dead_letter_topic(kafka_bootstrap, topic_prefix) -> None:
    publisher = EventPublisher(kafka_bootstrap, topic_prefix)
    await publisher.start()
    good = identified("ok")
    await publisher.publish_raw(COMMERCE_EVENTS.name, b"s1:bad", b"not json", [])
    await publisher.publish(COMMERCE_EVENTS.name, identified("explodes"))
    await publisher.publish(COMMERCE_EVENTS.name, good)

    handled: list[str] = []

    async def handle(envelope: Envelope) -> None:
        if envelope.customer_id == "explodes":
            raise RuntimeError("boom")
        handled.append(envelope.id)

    group = f"{topic_prefix}g"
    consumer = EventConsumer(
        bootstrap=kafka_bootstrap, prefix=topic_prefix, topics=[COMMERCE_EVENTS], group_id=group,
        handler=handle, dead_letters=publisher, attempts=2, retry_delay_s=0.01,
    )
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    try:
        # the three records may sit on different partitions: wait for the dead letters themselves
        records = await read_all(kafka_bootstrap, dead_letter_topic(COMMERCE_EVENTS, group).named(topic_prefix), 2)
        for _ in range(100):
            if handled:
                break
            await asyncio.sleep(0.1)
    finally:
        await consumer.stop()
        task.cancel()
        await publisher.stop()

    assert handled == [good.id]
    errors = sorted(dict(r.headers)["error"].decode() for r in records)
    assert len(errors) == 2
    assert errors[0].startswith("handler failed 2 times") and "boom" in errors[0]
    assert errors[1].startswith("unparseable envelope")


async def test_publishing_to_an_unreachable_broker_fails_within_the_timeout() -> None:
    publisher = EventPublisher("127.0.0.1:1", timeout_s=1)
    with pytest.raises(Exception):
        await asyncio.wait_for(publisher.start(), 5)


async def test_by_key_handles_customers_side_by_side_and_each_ones_events_in_order(
    kafka_bootstrap, topic_prefix
) -> None:
    publisher = EventPublisher(kafka_bootstrap, topic_prefix)
    await publisher.start()
    sent = [identified(f"c{i % 3}") for i in range(12)]  # four events for each of three customers
    await publisher.publish_many(COMMERCE_EVENTS.name, sent)

    seen: list[Envelope] = []
    waiting = 0
    most_waiting = 0
    done = asyncio.Event()

    async def handle(envelope: Envelope) -> None:
        nonlocal waiting, most_waiting
        waiting += 1
        most_waiting = max(most_waiting, waiting)
        await asyncio.sleep(0.05)  # a provider call: the other customers' handlers go meanwhile
        waiting -= 1
        seen.append(envelope)
        if len(seen) == len(sent):
            done.set()

    consumer = EventConsumer(
        bootstrap=kafka_bootstrap, prefix=topic_prefix, topics=[COMMERCE_EVENTS],
        group_id=f"{topic_prefix}g", handler=handle, dead_letters=publisher, by_key=True,
    )
    await run_consumer_until(consumer, done)
    await publisher.stop()
    for customer in ("c0", "c1", "c2"):
        assert [e.id for e in seen if e.customer_id == customer] == [e.id for e in sent if e.customer_id == customer]
    assert 1 < most_waiting <= 3  # concurrent across customers, never two of one customer's at once


ONE_PARTITION = TopicSpec("pipelined.events.v1", partitions=1)


def pipelined_consumer(kafka_bootstrap, topic_prefix, publisher, handle) -> EventConsumer:
    return EventConsumer(
        bootstrap=kafka_bootstrap, prefix=topic_prefix, topics=[ONE_PARTITION], group_id=f"{topic_prefix}g",
        handler=handle, dead_letters=publisher, by_key=True, max_records=4, batches_in_flight=3,
    )


async def test_batches_in_flight_overlap_and_keep_each_customers_order_across_batches(
    kafka_bootstrap, topic_prefix
) -> None:
    await ensure_topics(kafka_bootstrap, topic_prefix, [ONE_PARTITION])
    publisher = EventPublisher(kafka_bootstrap, topic_prefix)
    await publisher.start()
    sent = [identified(f"c{i % 8}") for i in range(40)]  # five events for each of eight customers
    await publisher.publish_many(ONE_PARTITION.name, sent)

    seen: list[Envelope] = []
    busy: set[str] = set()
    most_busy = 0
    overlapped_customer = False
    done = asyncio.Event()

    async def handle(envelope: Envelope) -> None:
        nonlocal most_busy, overlapped_customer
        overlapped_customer |= envelope.customer_id in busy
        busy.add(envelope.customer_id)
        most_busy = max(most_busy, len(busy))
        await asyncio.sleep(0.01 * (len(seen) % 3))  # uneven provider calls
        busy.discard(envelope.customer_id)
        seen.append(envelope)
        if len(seen) == len(sent):
            done.set()

    await run_consumer_until(pipelined_consumer(kafka_bootstrap, topic_prefix, publisher, handle), done)
    await publisher.stop()
    for customer in {e.customer_id for e in sent}:
        assert [e.id for e in seen if e.customer_id == customer] == [e.id for e in sent if e.customer_id == customer]
    assert not overlapped_customer  # one customer's events never side by side, even across batches
    assert most_busy > 4  # more customers at once than one batch of 4 holds: batches overlapped


async def test_a_batch_is_committed_only_after_every_earlier_batch(kafka_bootstrap, topic_prefix) -> None:
    await ensure_topics(kafka_bootstrap, topic_prefix, [ONE_PARTITION])
    publisher = EventPublisher(kafka_bootstrap, topic_prefix)
    await publisher.start()
    sent = [identified(f"c{i}") for i in range(8)]  # the first one's handler waits for `release`
    await publisher.publish_many(ONE_PARTITION.name, sent)
    release, done, later_handled = asyncio.Event(), asyncio.Event(), asyncio.Event()
    seen: list[Envelope] = []

    async def handle(envelope: Envelope) -> None:
        if envelope.id == sent[0].id:
            await release.wait()
        seen.append(envelope)
        if len(seen) >= 5:  # at least one later batch of four is done
            later_handled.set()
        if len(seen) == len(sent):
            done.set()

    consumer = pipelined_consumer(kafka_bootstrap, topic_prefix, publisher, handle)
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await asyncio.wait_for(later_handled.wait(), 30)
        await asyncio.sleep(0.5)  # time to commit, were it wrongly allowed to
        assert sent[0].id not in {e.id for e in seen}
        assert await committed(admin, f"{topic_prefix}g") in (None, 0)
        release.set()
        await asyncio.wait_for(done.wait(), 30)
        deadline = asyncio.get_running_loop().time() + 30
        while await committed(admin, f"{topic_prefix}g") != len(sent):
            assert asyncio.get_running_loop().time() < deadline, "the batches were never committed"
            await asyncio.sleep(0.1)
    finally:
        release.set()
        await consumer.stop()
        task.cancel()
        await admin.close()
        await publisher.stop()


async def committed(admin: AIOKafkaAdminClient, group: str) -> int | None:
    offsets = await admin.list_consumer_group_offsets(group)
    found = [meta.offset for tp, meta in offsets.items() if tp.topic.endswith(ONE_PARTITION.name)]
    return found[0] if found and found[0] >= 0 else None


async def test_a_stop_commits_the_batches_in_hand_before_leaving_the_group(kafka_bootstrap, topic_prefix) -> None:
    await ensure_topics(kafka_bootstrap, topic_prefix, [ONE_PARTITION])
    publisher = EventPublisher(kafka_bootstrap, topic_prefix)
    await publisher.start()
    sent = [identified(f"c{i}") for i in range(6)]
    await publisher.publish_many(ONE_PARTITION.name, sent)
    done = asyncio.Event()
    seen: list[Envelope] = []

    async def handle(envelope: Envelope) -> None:
        seen.append(envelope)
        if len(seen) == len(sent):
            done.set()

    consumer = pipelined_consumer(kafka_bootstrap, topic_prefix, publisher, handle)
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    await asyncio.wait_for(done.wait(), 30)
    started = asyncio.get_running_loop().time()
    await consumer.stop()  # the last batches are done but were not committed yet
    stopping_took = asyncio.get_running_loop().time() - started
    await asyncio.wait_for(task, 5)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        assert await committed(admin, f"{topic_prefix}g") == len(sent)
    finally:
        await admin.close()
        await publisher.stop()
    assert stopping_took < 5  # a fetch that waits for records does not hold the stop up
