"""SendGrid's blocking SDK in its child process (adapters.sdk_process), against the sandbox."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from boomerang.messenger.adapters.sendgrid import Sender, SendGridEmail
from boomerang.messenger.domain.flows import Channel
from boomerang.messenger.domain.messages import LedgerEntry, Outbound, Trigger
from boomerang.messenger.service_layer.ports import LookupUnavailable, ProviderError

pytestmark = pytest.mark.integration
SENDER = Sender("shop@shop.example", "Shop", "help@shop.example")


def receipt(n: int) -> Outbound:
    return Outbound(
        message_id=f"m-{n}", store_id="s1", customer_id=f"c{n}", flow="receipt", step="send", channel=Channel.EMAIL,
        to=f"c{n}@example.com", text="Thanks", subject="Your order", html="<html><body><p>Thanks</p></body></html>",
    )


@pytest.mark.parametrize("in_process", [False, True], ids=["sdk-process", "threads"])
async def test_sends_side_by_side_reach_the_provider_with_their_message_ids(sandbox, in_process) -> None:
    email = SendGridEmail("SG.test", sandbox.url, SENDER, threads=4, in_process=in_process)
    try:
        ids = await asyncio.gather(*(email.send(receipt(n)) for n in range(12)))
    finally:
        await email.close()
    outbox = sandbox.outbox(provider="sendgrid")
    assert len(outbox) == 12 and all(ids) and len(set(ids)) == 12
    assert sorted(m["custom_args"]["boomerang_message_id"] for m in outbox) == sorted(f"m-{n}" for n in range(12))
    assert all('<body style="margin: 0;' in m["html"] for m in outbox)  # the stylesheet is inlined on the way


async def test_a_refusal_crosses_from_the_sdk_process_as_the_providers_error(sandbox) -> None:
    sandbox.fault("sendgrid", 429, retry_after=3)
    email = SendGridEmail("SG.test", sandbox.url, SENDER)
    try:
        with pytest.raises(ProviderError) as refused:
            await email.send(receipt(1))
        assert await email.send(receipt(2))  # the process is still there after an error
    finally:
        await email.close()
    assert (refused.value.provider, refused.value.status, refused.value.retry_after) == ("sendgrid", 429, 3.0)
    assert refused.value.retryable


async def test_a_dead_sdk_process_fails_its_calls_in_flight_as_unanswered_and_the_next_call_starts_another(
    sandbox,
) -> None:
    answered = asyncio.Event()
    hung = await asyncio.start_server(lambda reader, writer: _hang(reader, writer, answered), "127.0.0.1", 0)
    port = hung.sockets[0].getsockname()[1]
    email = SendGridEmail("SG.test", f"http://127.0.0.1:{port}", SENDER, timeout_s=30)
    try:
        await email.start()
        first = email.pid
        in_flight = asyncio.create_task(email.send(receipt(1)))
        await asyncio.wait_for(answered.wait(), 10)  # the request is at the provider, unanswered
        os.kill(first, signal.SIGKILL)
        with pytest.raises(ProviderError) as lost:
            await asyncio.wait_for(in_flight, 10)
        assert lost.value.status is None and lost.value.ambiguous  # reconciled before any retry
        with pytest.raises(ProviderError) as refused:  # a new process, which reaches the provider again
            await asyncio.wait_for(email.send(receipt(2)), 10)
        second = email.pid
    finally:
        await email.close()
        hung.close()
    assert "SDK process exited" in lost.value.reason and refused.value.status == 400
    assert second is not None and second != first
    assert email.pid is None


async def _hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answered: asyncio.Event) -> None:
    """The first request waits for ever; later ones are refused with a 400."""
    await reader.readuntil(b"\r\n\r\n")
    if not answered.is_set():
        answered.set()
        await asyncio.sleep(3600)
    writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    await writer.drain()
    writer.close()


def test_the_sdk_process_dies_with_a_killed_messenger(sandbox) -> None:
    """SIGKILL leaves no child to finish sends that the restarted messenger reconciles."""
    script = (
        "import asyncio, sys\n"
        "from boomerang.messenger.adapters.sendgrid import Sender, SendGridEmail\n"
        "async def main():\n"
        f"    email = SendGridEmail('SG.test', {sandbox.url!r}, Sender('a@b.example', 'S', 'c@b.example'))\n"
        "    await email.start()\n"
        "    print('SDK', email.pid, flush=True)\n"
        "    await asyncio.sleep(3600)\n"
        "asyncio.run(main())\n"
    )
    messenger = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        child = int(next(line for line in messenger.stdout if line.startswith("SDK ")).split()[1])
        assert _alive(child)
        messenger.send_signal(signal.SIGKILL)
        messenger.wait(10)
        deadline = time.monotonic() + 10
        while _alive(child):
            assert time.monotonic() < deadline, "the SDK process outlived the messenger"
            time.sleep(0.05)
    finally:
        messenger.kill()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_the_sdk_process_sees_proxies_but_not_the_messengers_secrets(sandbox, monkeypatch) -> None:
    monkeypatch.setenv("BOOMERANG_MESSENGER_DATABASE_URL", "postgresql+psycopg://boomerang:secret@db/messenger")
    monkeypatch.setenv("KAFKA_SERVICE_HOST", "10.0.0.7")  # one of the variables Kubernetes adds per service
    monkeypatch.setenv("https_proxy", "http://proxy.internal:3128")
    email = SendGridEmail("SG.test", sandbox.url, SENDER)
    try:
        await email.start()
        with open(f"/proc/{email.pid}/environ", "rb") as environ:
            names = {entry.split(b"=", 1)[0].decode() for entry in environ.read().split(b"\0") if entry}
    finally:
        await email.close()
    assert "https_proxy" in names and "PATH" in names
    assert "BOOMERANG_MESSENGER_DATABASE_URL" not in names and "KAFKA_SERVICE_HOST" not in names


@pytest.mark.parametrize(("idle", "policy"), [(True, os.SCHED_IDLE), (False, os.SCHED_OTHER)])
async def test_the_sdk_process_and_its_worker_threads_give_way_to_the_event_loop(sandbox, idle, policy) -> None:
    email = SendGridEmail("SG.test", sandbox.url, SENDER, threads=3, idle=idle)
    try:
        await asyncio.gather(*(email.send(receipt(n)) for n in range(6)))  # the pool's threads exist now
        threads = os.listdir(f"/proc/{email.pid}/task")
        policies = {os.sched_getscheduler(int(thread)) for thread in threads}
    finally:
        await email.close()
    assert len(threads) > 1 and policies == {policy}
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the messenger's own process keeps its share


async def test_without_email_activity_a_lookup_says_it_cannot_ask_rather_than_missing(sandbox) -> None:
    email = SendGridEmail("SG.test", sandbox.url, SENDER, email_activity=False)
    entry = LedgerEntry.open(Trigger("s1", "c1", "receipt", "o-1", "evt-1"), "email", Channel.EMAIL, datetime.now(UTC))
    try:
        with pytest.raises(LookupUnavailable):
            await email.find(entry, entry.created_at)
    finally:
        await email.close()
