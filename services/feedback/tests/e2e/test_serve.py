"""`boomerang-feedback serve` as a process, configured only by BOOMERANG_* environment variables."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from boomerang.devstack.kafka_broker import free_port
from boomerang.devstack.waiting import wait_until_ready

pytestmark = pytest.mark.e2e


async def test_the_served_process_takes_a_signed_webhook_to_kafka(
    tmp_path: Path, kafka_bootstrap, topic_prefix, signer, make_event, encode, feedback_topic
):
    port = free_port()
    env = {
        **os.environ,
        "BOOMERANG_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "BOOMERANG_TOPIC_PREFIX": topic_prefix,
        "BOOMERANG_FEEDBACK_PORT": str(port),
        "BOOMERANG_FEEDBACK_DATABASE_URL": f"sqlite:///{tmp_path / 'feedback.db'}",
        "BOOMERANG_FEEDBACK_SENDGRID_WEBHOOK_PUBLIC_KEY": signer.public_key_b64,
    }
    command = [str(Path(sys.executable).with_name("boomerang-feedback")), "serve"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            wait_until_ready(
                f"http://127.0.0.1:{port}/readyz",
                timeout=30,
                alive=lambda: process.poll() is None,
                describe=lambda: process.stdout.read().decode(),
            )
            body = encode([make_event("evt-1", "open")])
            response = await http.post(
                "/v1/webhooks/sendgrid", content=body, headers=signer.headers(body, int(time.time()))
            )
            assert response.status_code == 200
            [(key, envelope)] = await feedback_topic.read(1)
            assert key == "store-1:cust-42" and envelope.event().kind == "open"
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0].decode()
    assert '"event": "webhook_accepted"' in output  # JSON logs
    assert "ada@example.com" not in output
