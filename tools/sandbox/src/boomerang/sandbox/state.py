"""The sandbox's parts, wired once from settings."""

import base64
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from boomerang.sandbox.faults import FaultPlan
from boomerang.sandbox.outbox import Outbox
from boomerang.sandbox.settings import Settings
from boomerang.sandbox.signing import SendGridSigner
from boomerang.sandbox.webhooks import SendGridWebhook, TwilioCallbacks, WebhookPoster


def utc_now() -> datetime:
    return datetime.now(UTC)


def random_token(size: int = 16) -> str:
    """Base64url without padding: the shape of SendGrid's X-Message-Id and sg_event_id."""
    return base64.urlsafe_b64encode(os.urandom(size)).rstrip(b"=").decode("ascii")


@dataclass
class Sandbox:
    settings: Settings
    outbox: Outbox
    faults: FaultPlan
    signer: SendGridSigner
    http: httpx.AsyncClient
    poster: WebhookPoster
    sendgrid_webhook: SendGridWebhook
    twilio_callbacks: TwilioCallbacks
    clock: Callable[[], datetime] = field(default=utc_now)


def build_sandbox(settings: Settings) -> Sandbox:
    key_path = settings.sendgrid_webhook_private_key_path
    signer = SendGridSigner.from_pem_file(key_path) if key_path else SendGridSigner.generate()
    http = httpx.AsyncClient(timeout=settings.webhook_timeout_seconds)
    poster = WebhookPoster(
        http, settings.webhook_attempts, settings.webhook_backoff_seconds, settings.webhook_concurrency
    )
    return Sandbox(
        settings=settings,
        outbox=Outbox(settings.outbox_path),
        faults=FaultPlan(),
        signer=signer,
        http=http,
        poster=poster,
        sendgrid_webhook=SendGridWebhook(poster, signer, settings.feedback_url),
        twilio_callbacks=TwilioCallbacks(poster, settings.twilio_auth_token),
    )
