"""Real servers on loopback: the sandbox under uvicorn, and a receiver standing in for feedback."""

import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import uvicorn
from sendgrid import SendGridAPIClient
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from boomerang.sandbox.app import create_app
from boomerang.sandbox.settings import Settings

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "sandbox-auth-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningSandbox:
    url: str
    settings: Settings

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(self.url + path, **kwargs)

    def outbox(self, **params: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.get("/outbox.json", params=params).json()["messages"]
        return messages


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., RunningSandbox]]:
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(**overrides: Any) -> RunningSandbox:
        settings = Settings(port=free_port(), webhook_backoff_seconds=0.05, **overrides)
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=settings.port, log_level="warning"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "sandbox did not start"
            time.sleep(0.01)
        servers.append((server, thread))
        return RunningSandbox(f"http://127.0.0.1:{settings.port}", settings)

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def sandbox(start_sandbox: Callable[..., RunningSandbox]) -> RunningSandbox:
    return start_sandbox()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server that records what it is sent and answers with scripted statuses."""

    url: str
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in turn, then 200
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.requests) >= count, timeout), (
                f"expected {count} requests, got {len(self.requests)}"
            )
            return list(self.requests)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    port = free_port()
    state = Receiver(f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.arrived:
                state.requests.append(Received(self.path, dict(self.headers), body))
                status = state.statuses.pop(0) if state.statuses else 200
                state.arrived.notify_all()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def rebase(url: str, base_url: str) -> str:
    """https://api.twilio.com/2010-04-01/... -> {base_url}/2010-04-01/..."""
    base, target = urlsplit(base_url), urlsplit(url)
    return urlunsplit((base.scheme, base.netloc, target.path, target.query, target.fragment))


class SandboxTwilioHttpClient(TwilioHttpClient):
    """The twilio SDK's documented extension point (a custom http_client), aimed at the sandbox."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        return super().request(method, rebase(url, self.base_url), *args, **kwargs)


class SandboxAsyncTwilioHttpClient(AsyncTwilioHttpClient):
    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        return await super().request(method, rebase(url, self.base_url), *args, **kwargs)


@pytest.fixture
def twilio_http_client(sandbox: RunningSandbox) -> SandboxTwilioHttpClient:
    return SandboxTwilioHttpClient(sandbox.url)


@pytest.fixture
def twilio_client(twilio_http_client: SandboxTwilioHttpClient) -> Client:
    return Client(ACCOUNT_SID, AUTH_TOKEN, http_client=twilio_http_client)


@pytest.fixture
def sendgrid_client(sandbox: RunningSandbox) -> SendGridAPIClient:
    return SendGridAPIClient("SG.sandbox-key", host=sandbox.url)


@pytest.fixture
async def async_twilio_client(sandbox: RunningSandbox) -> AsyncIterator[Client]:
    http_client = SandboxAsyncTwilioHttpClient(sandbox.url)
    yield Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http_client)
    await http_client.close()
