"""The sandbox's own knobs: faults, webhook keys, hand-written webhooks, health."""

import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from boomerang.sandbox.api_common import sandbox_of
from boomerang.sandbox.faults import FaultRequest, Provider
from boomerang.sandbox.sendgrid_events import complete_event
from boomerang.sandbox.state import random_token

router = APIRouter(tags=["sandbox"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.post("/_sandbox/faults", status_code=201)
async def add_fault(request: Request, fault: FaultRequest) -> dict[str, Any]:
    faults = sandbox_of(request).faults
    faults.add(fault)
    return {"faults": faults.pending()}


@router.get("/_sandbox/faults")
async def list_faults(request: Request) -> dict[str, Any]:
    return {"faults": sandbox_of(request).faults.pending()}


@router.delete("/_sandbox/faults", status_code=204)
async def clear_faults(request: Request, provider: Provider | None = None) -> None:
    sandbox_of(request).faults.clear(provider)


@router.get("/_sandbox/keys/sendgrid-webhook")
async def sendgrid_webhook_key(request: Request) -> dict[str, str]:
    """The verification key to give the feedback service, as SendGrid's settings page shows it."""
    return {"public_key": sandbox_of(request).signer.public_key()}


@router.post("/_sandbox/webhooks/sendgrid")
async def post_sendgrid_events(request: Request, events: list[dict[str, Any]]) -> dict[str, Any]:
    """Sign and post arbitrary events (bounces, spam reports...) to the feedback service."""
    webhook = sandbox_of(request).sendgrid_webhook
    if not webhook.enabled:
        raise HTTPException(409, "BOOMERANG_SANDBOX_FEEDBACK_URL is not set")
    now = int(time.time())
    completed = [complete_event(event, now, random_token) for event in events]
    status = await webhook.send(completed)
    return {"posted": len(completed), "status": status, "events": completed}


class TwilioWebhook(BaseModel):
    # Absolute, or a path under the feedback URL, e.g. "/v1/webhooks/twilio/inbound".
    url: str
    params: dict[str, str]


@router.post("/_sandbox/webhooks/twilio")
async def post_twilio_webhook(request: Request, webhook: TwilioWebhook) -> dict[str, Any]:
    """Sign and post a Twilio form webhook (inbound SMS such as STOP, a failed status...)."""
    sandbox = sandbox_of(request)
    url = webhook.url
    if url.startswith("/"):
        if not sandbox.settings.feedback_url:
            raise HTTPException(409, "a relative url needs BOOMERANG_SANDBOX_FEEDBACK_URL")
        url = sandbox.settings.feedback_url.rstrip("/") + url
    status = await sandbox.twilio_callbacks.post_form(url, webhook.params)
    return {"url": url, "status": status}
