"""The topic catalogue of ARCHITECTURE.md, and the code that creates it.

Every topic is keyed `store:customer`, so all topics share one partition count:
a customer's events, segments and messages land on the same partition number and
faust tables stay co-partitioned with their source.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

DAY_MS = 24 * 60 * 60 * 1000
PARTITIONS = 6


@dataclass(frozen=True)
class TopicSpec:
    name: str
    config: dict[str, str] = field(default_factory=dict)
    partitions: int = PARTITIONS

    def named(self, prefix: str) -> str:
        return f"{prefix}{self.name}"


def _retained(days: int) -> dict[str, str]:
    return {"cleanup.policy": "delete", "retention.ms": str(days * DAY_MS)}


_COMPACTED = {"cleanup.policy": "compact", "min.compaction.lag.ms": str(60 * 60 * 1000)}

COMMERCE_EVENTS = TopicSpec("commerce.events.v1", _retained(30))
CUSTOMER_SEGMENTS = TopicSpec("customer.segments.v1", _retained(30))
CUSTOMER_SCORES = TopicSpec("customer.scores.v1", _COMPACTED)
MESSAGE_EVENTS = TopicSpec("message.events.v1", _retained(90))
FEEDBACK_EVENTS = TopicSpec("feedback.events.v1", _retained(90))
PRIVACY_ERASURE = TopicSpec("privacy.erasure.v1", _COMPACTED)

ALL_TOPICS = (
    COMMERCE_EVENTS,
    CUSTOMER_SEGMENTS,
    CUSTOMER_SCORES,
    MESSAGE_EVENTS,
    FEEDBACK_EVENTS,
    PRIVACY_ERASURE,
)


def dead_letter_topic(source: TopicSpec, consumer: str) -> TopicSpec:
    return TopicSpec(f"{source.name}.dlq.{consumer}", _retained(30), source.partitions)


async def ensure_topics(
    bootstrap: str, prefix: str = "", specs: tuple[TopicSpec, ...] = ALL_TOPICS
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(s.named(prefix), s.partitions, 1, topic_configs=s.config)
            for s in specs
            if s.named(prefix) not in existing
        ]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass  # another service created them first
        return [t.name for t in wanted]
    finally:
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Create Boomerang's Kafka topics.")
    parser.add_argument("--bootstrap", default="localhost:9092")
    parser.add_argument("--prefix", default="")
    args = parser.parse_args()
    created = asyncio.run(ensure_topics(args.bootstrap, args.prefix))
    print(f"created {len(created)} topics: {', '.join(created) or '-'}")


if __name__ == "__main__":
    main()
