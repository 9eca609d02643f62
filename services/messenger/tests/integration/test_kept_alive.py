"""SendGrid's SDK over a kept-alive connection (adapters.kept_alive), against a real HTTP/1.1
server that records which connection each request came on and can misbehave on cue."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sendgrid import SendGridAPIClient

from boomerang.messenger.adapters.kept_alive import KeptAliveConnection
from boomerang.messenger.adapters.sendgrid import SendGridCalls, shared_https_context
from boomerang.messenger.service_layer.ports import ProviderError

pytestmark = pytest.mark.integration
BODY = {"personalizations": [{"to": [{"email": "c1@example.com"}]}], "subject": "Your order"}


@dataclass
class Seen:
    client: tuple[str, int]  # the connection: the client's address and port
    target: str  # the request line's target: a path, or a whole URL through a proxy
    connection_header: str | None


@dataclass
class Provider:
    """What the server saw, and what it does next: each cue is taken by one request
    ("close-after": answer, then close the connection; "drop": read the request, close without
    answering; a number: answer with that status); no cue: 202."""

    url: str
    seen: list[Seen] = field(default_factory=list)
    cues: list[str | int] = field(default_factory=list)
    closed: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))  # one per connection it closed

    @property
    def connections(self) -> int:
        return len({s.client for s in self.seen})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def shutdown_request(self, request) -> None:  # type: ignore[no-untyped-def]
        super().shutdown_request(request)
        self.provider.closed.release()  # type: ignore[attr-defined]


@pytest.fixture
def provider() -> Iterator[Provider]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.provider = Provider(f"http://127.0.0.1:{server.server_address[1]}")  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield server.provider  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keeps a connection open unless asked not to

    def do_POST(self) -> None:  # noqa: N802 - the standard library's name
        self._answer()

    def do_GET(self) -> None:  # noqa: N802
        self._answer()

    def _answer(self) -> None:
        provider: Provider = self.server.provider  # type: ignore[attr-defined]
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        provider.seen.append(Seen(self.client_address, self.path, self.headers.get("Connection")))
        cue = provider.cues.pop(0) if provider.cues else 202
        if cue == "drop":
            self.close_connection = True
            return
        status = 202 if cue == "close-after" else int(cue)
        body = b"" if status < 400 else json.dumps({"errors": [{"message": f"refused with {status}"}]}).encode()
        self.send_response(status)
        self.send_header("X-Message-Id", f"sg-{len(provider.seen)}")
        if status == 429:
            self.send_header("Retry-After", "7")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if cue == "close-after":
            self.wfile.flush()
            self.close_connection = True

    def log_message(self, *args: object) -> None:
        return None


def test_every_email_of_a_thread_goes_over_one_connection(provider: Provider) -> None:
    calls = SendGridCalls("SG.test", provider.url, timeout_s=5)

    ids = [calls.send(BODY) for _ in range(20)]

    assert ids == [f"sg-{n}" for n in range(1, 21)]
    assert provider.connections == 1
    assert {s.connection_header for s in provider.seen} == {None}  # no "close" asked for


def test_with_keep_alive_off_each_email_has_a_connection_as_the_sdk_comes(provider: Provider) -> None:
    calls = SendGridCalls("SG.test", provider.url, timeout_s=5, keep_alive_s=0)

    for _ in range(3):
        calls.send(BODY)

    assert provider.connections == 3
    assert {s.connection_header for s in provider.seen} == {"close"}


def test_a_connection_the_provider_closed_while_idle_is_replaced_before_the_next_email(provider: Provider) -> None:
    calls = SendGridCalls("SG.test", provider.url, timeout_s=5)
    provider.cues = ["close-after"]
    calls.send(BODY)
    assert provider.closed.acquire(timeout=5)

    assert calls.send(BODY) == "sg-2"  # not an error: the closed connection was not used
    assert provider.connections == 2


def test_a_connection_idle_longer_than_the_limit_is_not_reused(provider: Provider) -> None:
    now = [0.0]
    connection = KeptAliveConnection(shared_https_context, idle_s=4.0, clock=lambda: now[0])
    send = connection.carry(SendGridAPIClient("SG.test", host=provider.url).client.mail.send).post

    send(request_body=BODY)
    now[0] = 3.9
    send(request_body=BODY)
    now[0] = 8.0  # 4.1 s after the last use
    send(request_body=BODY)

    clients = [s.client for s in provider.seen]
    assert clients[0] == clients[1] != clients[2]


def test_an_email_whose_connection_died_unanswered_fails_as_unanswered_and_the_next_one_goes(
    provider: Provider,
) -> None:
    calls = SendGridCalls("SG.test", provider.url, timeout_s=5)
    calls.send(BODY)
    provider.cues = ["drop"]

    with pytest.raises(ProviderError) as unanswered:
        calls.send(BODY)

    # No status: the ledger treats it as possibly taken and looks before sending again.
    assert unanswered.value.status is None and unanswered.value.ambiguous
    assert calls.send(BODY) == "sg-3"
    assert len(provider.seen) == 3  # the dropped request was not repeated behind our back


def test_provider_refusals_keep_their_status_reason_and_retry_after_and_the_connection(provider: Provider) -> None:
    calls = SendGridCalls("SG.test", provider.url, timeout_s=5)
    provider.cues = [429, 400, 503]

    refusals = []
    for _ in range(3):
        with pytest.raises(ProviderError) as refused:
            calls.send(BODY)
        refusals.append(refused.value)

    assert [(r.status, r.reason, r.retry_after) for r in refusals] == [
        (429, "refused with 429", 7.0),
        (400, "refused with 400", None),
        (503, "refused with 503", None),
    ]
    assert calls.send(BODY) == "sg-4"
    assert provider.connections == 1


def test_the_email_activity_lookup_goes_over_the_held_connection_too(provider: Provider) -> None:
    calls = SendGridCalls("SG.test", provider.url, timeout_s=5)
    calls.send(BODY)

    assert calls.find("m-1") is None  # the server's empty answer: no such message

    assert provider.seen[1].target.startswith("/v3/messages?")
    assert provider.connections == 1


def test_through_a_configured_proxy_the_sdk_s_own_transport_is_used(provider: Provider, monkeypatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", provider.url)  # the test server plays the proxy
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    calls = SendGridCalls("SG.test", "http://sendgrid.invalid", timeout_s=5)

    assert calls.send(BODY) == "sg-1"

    assert provider.seen[0].target == "http://sendgrid.invalid/v3/mail/send"  # asked of the proxy
