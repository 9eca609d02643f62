"""The sandbox's webhook poster under a burst, against a real (slow) HTTP receiver."""

from __future__ import annotations

import asyncio

import httpx

from boomerang.sandbox.webhooks import WebhookPoster


class SlowReceiver:
    """Answers every request 204 after `delay_s`, counting how many it holds at once."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.held = self.most_held = self.answered = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while head := await reader.readuntil(b"\r\n\r\n"):
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
            self.held += 1
            self.most_held = max(self.most_held, self.held)
            await asyncio.sleep(self.delay_s)
            self.held -= 1
            self.answered += 1
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
            await writer.drain()


async def test_a_burst_of_webhooks_goes_out_a_few_at_a_time_and_every_one_arrives() -> None:
    receiver = SlowReceiver(delay_s=0.01)
    server = await asyncio.start_server(
        lambda r, w: _quietly(receiver.serve(r, w)), "127.0.0.1", 0
    )
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    async with server, httpx.AsyncClient(timeout=5) as client:
        poster = WebhookPoster(client, attempts=1, backoff_seconds=0, concurrency=5)
        for n in range(200):
            poster.in_background(lambda n=n: poster.post(url, f"n={n}".encode(), {}))
        await poster.drain(timeout=30)

    assert receiver.answered == 200
    assert receiver.most_held == 5


async def _quietly(serving) -> None:  # type: ignore[no-untyped-def]
    try:
        await serving
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
