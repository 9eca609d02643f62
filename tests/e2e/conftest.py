import asyncio
import uuid
from collections.abc import Iterator

import pytest

from boomerang.devstack.kafka_broker import free_port
from boomerang.devstack.stack import DEFAULT_PORTS, Stack, StackConfig
from boomerang.shared.kafka import ensure_topics


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    """The four services, the segmenter's query API and the sandbox as real processes, on the
    session's broker. A test module's SERVICE_SETTINGS ({service: {variable: value}}) go to
    those services' environments."""
    prefix = f"e{uuid.uuid4().hex[:10]}."
    asyncio.run(ensure_topics(kafka_bootstrap, prefix))
    config = StackConfig(
        root=tmp_path_factory.mktemp("stack"),
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=prefix,
        ports={name: free_port() for name in DEFAULT_PORTS},
        service_settings=dict(getattr(request.module, "SERVICE_SETTINGS", {})),
    )
    running = Stack(config)
    try:
        running.up(timeout=120)
        yield running
    finally:
        for name in ("ingest", "segmenter", "segmenter-api", "messenger", "feedback", "sandbox"):
            if "Traceback" in running.log_tail(name, 400):
                print(f"--- {name} log tail ---\n{running.log_tail(name)}")
        running.down()
