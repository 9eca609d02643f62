"""The load client against a tiny local HTTP server: answers counted, silence not hidden."""

from __future__ import annotations

import asyncio
import json
import re

from boomerang.bench.load import Client, open_loop, post_batches


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers each POST with the number of calls in its batch; never answers a body of `silence`."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            body = await reader.readexactly(int(re.search(rb"Content-Length: (\d+)", head)[1]))
            if body == b"silence":
                await asyncio.sleep(3600)
            status, answer = (200, {"accepted": len(json.loads(body)["batch"])}) if body.startswith(b"{") else (
                401, {"error": {"code": "invalid_write_key"}}
            )
            payload = json.dumps(answer).encode()
            writer.write(b"HTTP/1.1 %d X\r\ncontent-length: %d\r\n\r\n%s" % (status, len(payload), payload))
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def test_batches_are_tallied_and_refusals_counted_by_code():
    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, Client("127.0.0.1", port, {"Authorization": "Basic x"}, 3) as http:
        requests = [http.request("/v1/batch", json.dumps({"batch": [{}] * n}).encode()) for n in (1, 2, 3, 4)]
        run = await post_batches(http, [*requests, http.request("/v1/batch", b"no")], concurrency=3)
    assert run.accepted == 10 and run.requests == 5
    assert run.errors == {"401 invalid_write_key": 1}
    assert run.seconds >= 0


async def test_an_open_loop_gives_up_on_silence_and_still_counts_its_wait():
    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, Client("127.0.0.1", port, {}, 8) as http:
        ok = http.request("/v1/track", json.dumps({"batch": []}).encode())
        requests = [ok, http.request("/v1/track", b"silence"), ok, ok]
        run = await open_loop(http, requests, rate=200.0, drain_s=0.3)
    assert run.planned == 4 and run.unanswered == 1 and run.errors == {}
    assert len(run.latencies_s) == 4
    assert max(run.latencies_s) >= 0.3  # the silent one waited at least the drain time
