"""SMS through Twilio's official SDK, async client.

The SDK's documented extension point, a custom `http_client`, sends its requests to the configured
base URL (the provider sandbox in dev and tests); nothing in the SDK is patched.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
from twilio.base import values
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from boomerang.messenger.domain.messages import LedgerEntry, Outbound, digest
from boomerang.messenger.service_layer.ports import ProviderError

NAME = "twilio"
# TwilioRestException drops the response headers, so the http client leaves Retry-After here. A
# ContextVar rather than an attribute: the value stays with the task awaiting the SDK call.
_retry_after: ContextVar[float | None] = ContextVar("twilio_retry_after", default=None)


class BaseUrlHttpClient(AsyncTwilioHttpClient):
    def __init__(self, base_url: str, timeout_s: float) -> None:
        super().__init__(timeout=timeout_s)
        self._base = urlsplit(base_url.rstrip("/"))

    async def request(
        self,
        method: str,
        url: str,
        params=None,
        data=None,
        headers=None,
        auth=None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if auth is not None:
            # aiohttp deprecates its auth= argument; the same credentials go in as a header.
            headers = {**(headers or {}), "Authorization": aiohttp.encode_basic_auth(*auth)}
        response = await super().request(
            method, self.rebase(url), params, data, headers, None, timeout or self.timeout, allow_redirects
        )
        failed = response.status_code >= 400 and response.headers is not None
        _retry_after.set(_seconds(response.headers.get("Retry-After")) if failed else None)
        return response

    def rebase(self, url: str) -> str:
        """https://api.twilio.com/2010-04-01/... -> {base_url}/2010-04-01/..."""
        target = urlsplit(url)
        path = self._base.path + target.path
        return urlunsplit((self._base.scheme, self._base.netloc, path, target.query, target.fragment))


class TwilioSms:
    name = NAME
    lookup_lag = timedelta(0)  # the Messages list has a message as soon as it is created

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        base_url: str,
        sender: str,
        timeout_s: float = 10.0,
        status_callback_url: str | None = None,
    ) -> None:
        # Built inside the running loop: the SDK's aiohttp session belongs to it.
        self._http = BaseUrlHttpClient(base_url, timeout_s)
        self._client = Client(account_sid, auth_token, http_client=self._http)
        self._sender = sender
        self._status_callback_url = status_callback_url

    async def send(self, message: Outbound) -> str | None:
        created = await _call(
            self._client.messages.create_async(
                to=message.to, from_=self._sender, body=message.text, status_callback=self._callback(message)
            )
        )
        return created.sid

    def _callback(self, message: Outbound) -> str | object:
        """Twilio signs the whole URL, query included, so the ids travel safely to feedback."""
        if not self._status_callback_url:
            return values.unset
        return f"{self._status_callback_url}?{urlencode(message.attribution())}"

    async def find(self, entry: LedgerEntry, sent_since: datetime) -> str | None:
        """A message to the same number since the entry was written, with exactly its body."""
        if entry.recipient is None or entry.body_digest is None:
            return None
        listed = await _call(
            self._client.messages.list_async(to=entry.recipient, date_sent_after=sent_since, limit=200)
        )
        return next(
            (m.sid for m in listed if m.body is not None and digest(m.body) == entry.body_digest), None
        )

    async def close(self) -> None:
        await self._http.close()


async def _call(request):
    _retry_after.set(None)
    try:
        return await request
    except TwilioRestException as error:
        reason = f"{error.code}: {error.msg}" if error.code else str(error.msg)
        raise ProviderError(NAME, error.status, reason, _retry_after.get()) from error
    except (aiohttp.ClientError, TimeoutError) as error:
        raise ProviderError(NAME, None, f"unreachable: {error!r}") from error


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
