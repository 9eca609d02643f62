"""Email through SendGrid's official SDK; its base URL (host) points it at the sandbox in dev."""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.client import HTTPException
from typing import Any

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Category,
    Content,
    CustomArg,
    From,
    Header,
    Mail,
    MimeType,
    Personalization,
    ReplyTo,
    Subject,
    To,
)

from boomerang.messenger.adapters.kept_alive import KeptAliveConnection
from boomerang.messenger.adapters.rendering import StyleInliner
from boomerang.messenger.adapters.sdk_process import SdkProcess, ThreadCalls
from boomerang.messenger.domain.messages import LedgerEntry, Outbound
from boomerang.messenger.service_layer.ports import LookupUnavailable, ProviderError
from boomerang.shared.events import attribution

NAME = "sendgrid"


@dataclass(frozen=True)
class Sender:
    email: str
    name: str
    reply_to: str


class SendGridEmail:
    """The SDK is blocking (urllib): its calls run `threads` at a time, so that a batch's sends
    wait for the provider side by side, in a child process of their own (`sdk_process`) unless
    `in_process`, where they run in this process's threads.

    The request body (the SDK's `Mail`, the HTML given its styles by `styles`, the packaged
    stylesheet unless given) is built here, on the event loop, and the child only posts it: the
    child's one thread at a time under the GIL is the narrower of the two in `make
    bench-messenger` (a), and every CPU-millisecond it is spared is one its threads are not
    queued for (see sdk_process)."""

    name = NAME

    def __init__(
        self,
        api_key: str,
        base_url: str,
        sender: Sender,
        timeout_s: float = 10.0,
        threads: int = 16,
        in_process: bool = False,
        styles: StyleInliner | None = None,
        idle: bool = True,
        keep_alive_s: float = 4.0,
        lookup_lag: timedelta = timedelta(minutes=10),
        email_activity: bool = True,
    ) -> None:
        self._sender = sender
        self.lookup_lag = lookup_lag
        self._email_activity = email_activity
        self._styles = styles or StyleInliner.of()
        calls = SendGridCalls(api_key, base_url.rstrip("/"), timeout_s, keep_alive_s)
        self._calls = ThreadCalls(calls, threads, NAME) if in_process else SdkProcess(calls, threads, NAME, idle=idle)

    @property
    def pid(self) -> int | None:
        """The SDK process's, while it runs (None `in_process`)."""
        return self._calls.pid

    async def start(self) -> None:
        await self._calls.start()

    async def send(self, message: Outbound) -> str | None:
        html = self._styles(message.html) if message.html else None
        return await self._calls.call("send", build_mail(message, self._sender, html).get())

    async def find(self, entry: LedgerEntry, sent_since: datetime) -> str | None:
        if not self._email_activity:
            raise LookupUnavailable("sendgrid: Email Activity is not on this account (SENDGRID_EMAIL_ACTIVITY)")
        return await self._calls.call("find", entry.message_id)

    async def close(self) -> None:
        await self._calls.close()


class SendGridCalls:
    """The blocking calls, one SDK client per thread; pickled into the SDK process.

    `keep_alive_s` > 0: each thread's requests share a connection while it is reused within
    that many seconds (adapters.kept_alive); 0: the SDK's own transport, a connection each."""

    def __init__(self, api_key: str, host: str, timeout_s: float, keep_alive_s: float = 4.0) -> None:
        self._api_key = api_key
        self._host = host
        self._timeout_s = timeout_s
        self._keep_alive_s = keep_alive_s
        self._local = threading.local()

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_local"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _local=threading.local())

    @property
    def _client(self) -> SendGridAPIClient:
        client = getattr(self._local, "client", None)
        if client is None:
            share_one_https_context()
            client = self._local.client = SendGridAPIClient(self._api_key, host=self._host)
            if self._keep_alive_s > 0:
                self._local.connection = KeptAliveConnection(shared_https_context, self._keep_alive_s)
        return client

    def _endpoint(self, endpoint: Any) -> Any:
        """`endpoint` (a python_http_client.Client) sending over this thread's held connection."""
        connection = getattr(self._local, "connection", None)
        return connection.carry(endpoint) if connection is not None else endpoint

    @property
    def _mail_send(self) -> Any:
        endpoint = getattr(self._local, "mail_send", None)
        if endpoint is None:
            # Held, not rebuilt per call (each attribute of the chain makes a new Client); a call
            # leaves it as it was unless given request_headers, which these never are.
            endpoint = self._local.mail_send = self._endpoint(self._client.client.mail.send)
        return endpoint

    def send(self, body: dict) -> str | None:
        """`body`: the v3 mail/send request body (`Mail.get()`)."""
        response = _call(lambda: self._mail_send.post(request_body=body, timeout=self._timeout_s))
        return response.headers.get("X-Message-Id")

    def find(self, message_id: str) -> str | None:
        # Email Activity search on our custom arg. SendGrid indexes messages with a delay, so a
        # miss right after a send is not proof of absence (see the README).
        query = f"unique_args['{attribution.MESSAGE_ID}']=\"{message_id}\""
        response = _call(
            lambda: self._endpoint(self._client.client.messages).get(
                query_params={"query": query, "limit": 1}, timeout=self._timeout_s
            )
        )
        rows = json.loads(response.body or b"{}").get("messages") or []
        # msg_id is "<X-Message-Id>.<filter suffix>"; keep the part the send call returned.
        return rows[0]["msg_id"].split(".", 1)[0] if rows else None


_SHARING = threading.Lock()


def shared_https_context() -> ssl.SSLContext:
    """The one context (share_one_https_context) that urllib's connections get too."""
    share_one_https_context()
    return ssl._create_default_https_context()


def share_one_https_context() -> None:
    """Every HTTPS connection urllib opens in this process gets one verifying TLS context.

    The SDK (python_http_client) builds a new urllib opener for each request, and with it
    http.client a new `ssl.create_default_context()` per connection, which reads the whole CA
    bundle: about 20 ms of CPU per email against about 1 ms with one shared context, over HTTPS
    with the system's CA bundle (`make bench-messenger`, "(f) over HTTPS"). The SDK takes no
    context of its own, so this sets the hook http.client calls for one
    (`ssl._create_default_https_context`, the one PEP 476 names), to a context made once, as
    strict as the default: certificates and host names are checked against the same CA bundle
    (SSL_CERT_FILE / SSL_CERT_DIR when set)."""
    with _SHARING:
        if getattr(ssl._create_default_https_context, "shared", False):
            return
        context = ssl.create_default_context()

        def shared() -> ssl.SSLContext:
            return context

        shared.shared = True  # type: ignore[attr-defined]
        ssl._create_default_https_context = shared


def build_mail(message: Outbound, sender: Sender, html: str | None) -> Mail:
    """`html`: the message's HTML part with its styles inlined."""
    mail = Mail()
    mail.from_email = From(sender.email, sender.name)
    # The store's address when the message names one, so a customer's reply reaches a person.
    mail.reply_to = ReplyTo(message.reply_to or sender.reply_to)
    mail.subject = Subject(message.subject or "")
    personalization = Personalization()
    personalization.add_to(_to(message.to))
    for key, value in message.attribution().items():
        personalization.add_custom_arg(CustomArg(key, value))
    mail.add_personalization(personalization)
    mail.add_content(Content(MimeType.text, message.text))
    if html:
        mail.add_content(Content(MimeType.html, html))
    mail.add_category(Category(message.flow))
    for name, value in message.headers:  # List-Unsubscribe and List-Unsubscribe-Post
        mail.add_header(Header(name, value))
    return mail


def _to(address: str) -> To:
    # Set, not parsed: `To(address)` runs it through email.utils.parseaddr, a fifth of building
    # the body, for an address validated when it came in (and never "Name <address>").
    to = To()
    to.email = address
    return to


def _call(request):
    try:
        return request()
    except HTTPError as error:
        raise ProviderError(NAME, error.status_code, _reason(error), _retry_after(error.headers)) from error
    except (OSError, HTTPException) as error:  # URLError, timeouts, resets, TLS: no HTTP answer
        raise ProviderError(NAME, None, f"unreachable: {error}") from error


def _reason(error: HTTPError) -> str:
    try:
        errors = json.loads(error.body or b"{}").get("errors") or []
        messages = [e.get("message", "") for e in errors if isinstance(e, dict)]
        return "; ".join(m for m in messages if m) or str(error.reason)
    except (ValueError, AttributeError):
        return str(error.reason)


def _retry_after(headers) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
