"""Posting provider webhooks: signed, in the background, with a short retry."""

import asyncio
import json
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlencode

import httpx

from boomerang.sandbox.outbox import OutboxMessage
from boomerang.sandbox.signing import SendGridSigner, twilio_signature
from boomerang.sandbox.twilio_messages import status_callback_params

log = logging.getLogger(__name__)

SENDGRID_PATH = "/v1/webhooks/sendgrid"


class WebhookPoster:
    """Posts with retries on network errors, 429 and 5xx; keeps background tasks alive until done.

    At most `concurrency` posts are out at once; the rest wait their turn here, in order. httpx's
    pool scans every request queued for a connection each time one frees up, so thousands of
    queued webhooks (a burst of SMS, two status callbacks each) had the sandbox spending its CPU
    on that scan, and posts timing out in the queue."""

    def __init__(
        self, client: httpx.AsyncClient, attempts: int, backoff_seconds: float, concurrency: int = 20
    ) -> None:
        self._client = client
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._turns = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[Any]] = set()

    async def post(self, url: str, content: bytes, headers: dict[str, str]) -> int | None:
        """The receiver's last status, or None if it never answered."""
        status: int | None = None
        for attempt in range(self._attempts):
            if attempt:
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
            try:
                async with self._turns:
                    status = (await self._client.post(url, content=content, headers=headers)).status_code
            except httpx.HTTPError as error:
                log.warning("webhook to %s failed: %r", url, error)
                continue
            if status < 500 and status != 429:
                return status
        log.warning("webhook to %s gave up after %d attempts (last status %s)", url, self._attempts, status)
        return status

    def in_background(self, work: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        task = asyncio.create_task(work())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float) -> None:
        """Let webhooks already under way finish, so a clean stop loses none."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)


class SendGridWebhook:
    def __init__(self, poster: WebhookPoster, signer: SendGridSigner, feedback_url: str | None) -> None:
        self._poster = poster
        self._signer = signer
        self._url = feedback_url.rstrip("/") + SENDGRID_PATH if feedback_url else None

    @property
    def enabled(self) -> bool:
        return self._url is not None

    async def send(self, events: list[dict[str, Any]]) -> int | None:
        if self._url is None:
            return None
        body = json.dumps(events).encode("utf-8")
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "SendGrid Event API",
            "X-Twilio-Email-Event-Webhook-Signature": self._signer.sign(timestamp, body),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        }
        return await self._poster.post(self._url, body, headers)

    def send_in_background(self, events: list[dict[str, Any]]) -> None:
        if self._url is not None:
            self._poster.in_background(lambda: self.send(events))


class TwilioCallbacks:
    def __init__(self, poster: WebhookPoster, auth_token: str) -> None:
        self._poster = poster
        self._token = auth_token

    async def post_form(self, url: str, params: dict[str, str]) -> int | None:
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "TwilioProxy/1.1",
            "X-Twilio-Signature": twilio_signature(self._token, url, params),
        }
        content = urlencode(params).encode("ascii")
        return await self._poster.post(url, content, headers)

    async def report_delivery(self, message: OutboxMessage) -> None:
        """`sent` then `delivered`, in that order, as Twilio's status callbacks arrive."""
        if message.status_callback is None:
            return
        for status in ("sent", "delivered"):
            await self.post_form(message.status_callback, status_callback_params(message, status))

    def report_delivery_in_background(self, message: OutboxMessage) -> None:
        if message.status_callback is not None:
            self._poster.in_background(lambda: self.report_delivery(message))
