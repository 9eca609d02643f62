"""The SendGrid SDK's requests over a kept-alive connection (one per thread that sends).

The SDK (python_http_client) sends each request through a new urllib opener, which asks for
`Connection: close`: a TCP connection per email, and over HTTPS a TLS handshake per email (about
1 ms of CPU on each side and two more round trips to the provider before the request leaves).
`KeptAliveConnection.make_request` takes the place of the SDK's `Client._make_request` (the
seam the SDK keeps for swapping its transport) and sends the request the SDK built, unchanged,
over the thread's held connection; the SDK still builds the URL, headers and body and wraps
the answer and its errors.

A held connection the provider closed while it sat idle is the one new way a request can fail.
Such a connection is not reused: one idle longer than `idle_s`, or whose socket is readable
(the provider's FIN, or bytes nobody asked for), is closed and a new one opened first. A
request that fails anyway is not repeated here: a POST may have been taken, so the error goes
up as the SDK's would (no HTTP answer), and the send ledger looks the message up before any
retry. When a proxy is configured for the provider's scheme (HTTP(S)_PROXY), the SDK's own
transport is used, as it honours the proxy settings."""

from __future__ import annotations

import http.client
import io
import select
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from python_http_client.exceptions import handle_error


class KeptAliveConnection:
    """One connection, to the host of the latest request, for as long as it is reused within
    `idle_s`. Not thread-safe: one per thread, as each holds its own SDK client."""

    def __init__(
        self,
        https_context: Callable[[], ssl.SSLContext],
        idle_s: float = 4.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._https_context = https_context
        self._idle_s = idle_s
        self._clock = clock
        self._held: http.client.HTTPConnection | None = None
        self._origin: tuple[str, str] | None = None
        self._used_at = 0.0
        self._proxies: dict[str, str] | None = None

    def carry(self, endpoint: Any) -> Any:
        """`endpoint` (a python_http_client.Client, the SDK's `client.mail.send` and the like)
        with its requests sent over this connection."""
        endpoint._make_request = self.make_request
        return endpoint

    def make_request(self, opener: Any, request: urllib.request.Request, timeout: float | None = None) -> Any:
        """python_http_client.Client._make_request's contract: the answer (getcode, read,
        info), or the SDK's HTTPError for a status outside 2xx."""
        if self._proxied(request.type):
            return _stock(opener, request, timeout)
        connection = self._connection(request, timeout)
        try:
            connection.request(request.get_method(), request.selector, request.data, dict(request.header_items()))
            answer = connection.getresponse()
            body = answer.read()
        except BaseException:
            self._drop()
            raise
        if answer.will_close:
            self._drop()
        else:
            self._used_at = self._clock()
        if not 200 <= answer.status < 300:
            raise handle_error(
                urllib.error.HTTPError(request.full_url, answer.status, answer.reason, answer.headers, io.BytesIO(body))
            )
        return _Answer(answer.status, body, answer.headers)

    def close(self) -> None:
        self._drop()

    def _connection(self, request: urllib.request.Request, timeout: float | None) -> http.client.HTTPConnection:
        held = self._held
        if held is not None and (
            self._origin != (request.type, request.host)
            or self._clock() - self._used_at > self._idle_s
            or _closed_by_peer(held)
        ):
            self._drop()
            held = None
        if held is None:
            held = self._held = self._open(request)
            self._origin = (request.type, request.host)
        held.timeout = timeout
        if held.sock is not None:
            held.sock.settimeout(timeout)
        return held

    def _open(self, request: urllib.request.Request) -> http.client.HTTPConnection:
        if request.type == "https":
            return http.client.HTTPSConnection(request.host, context=self._https_context())
        return http.client.HTTPConnection(request.host)

    def _drop(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.close()

    def _proxied(self, scheme: str) -> bool:
        if self._proxies is None:  # read once: urllib scans the whole environment for them
            self._proxies = urllib.request.getproxies()
        return scheme in self._proxies


class _Answer:
    """What python_http_client's Response reads from urllib's answer."""

    def __init__(self, status: int, body: bytes, headers: http.client.HTTPMessage) -> None:
        self._status, self._body, self._headers = status, body, headers

    def getcode(self) -> int:
        return self._status

    def read(self) -> bytes:
        return self._body

    def info(self) -> http.client.HTTPMessage:
        return self._headers


def _closed_by_peer(connection: http.client.HTTPConnection) -> bool:
    """Between requests nothing is owed to us: a readable socket means the peer closed it."""
    if connection.sock is None:
        return True
    poll = select.poll()
    poll.register(connection.sock, select.POLLIN)
    return bool(poll.poll(0))


def _stock(opener: Any, request: urllib.request.Request, timeout: float | None) -> Any:
    try:
        return opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        raised = handle_error(error)
        raised.__cause__ = None
        raise raised from None
