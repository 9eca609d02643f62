"""Provider webhooks: verify, store raw once, answer 2xx fast; publishing is the outbox's job."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from boomerang.feedback import metrics
from boomerang.feedback.bootstrap import Feedback
from boomerang.feedback.domain import sendgrid, sms, twilio
from boomerang.feedback.domain.errors import (
    SIGNATURE_REJECTIONS,
    InvalidPayload,
    WebhookNotConfigured,
)
from boomerang.feedback.domain.signatures import (
    SENDGRID_SIGNATURE_HEADER,
    SENDGRID_TIMESTAMP_HEADER,
    TWILIO_SIGNATURE_HEADER,
    verify_sendgrid,
    verify_twilio,
)
from boomerang.feedback.domain.model import ProviderEvent
from boomerang.feedback.service_layer.intake import take_in
from boomerang.shared.errors import BoomerangError, PayloadTooLarge

router = APIRouter(tags=["webhooks"])


class WebhookAccepted(BaseModel):
    received: int
    stored: int
    duplicates: int


@router.post("/v1/webhooks/sendgrid", response_model=WebhookAccepted)
async def sendgrid_events(request: Request) -> WebhookAccepted:
    feedback: Feedback = request.state.feedback
    if feedback.sendgrid_key is None:
        # Never accept unsigned events because nobody configured the key.
        raise WebhookNotConfigured("the SendGrid webhook public key is not configured")
    with _counted(sendgrid.PROVIDER):
        body = await _read_body(request, feedback.settings.max_body_bytes)
        now = feedback.clock()
        verify_sendgrid(
            feedback.sendgrid_key,
            signature=request.headers.get(SENDGRID_SIGNATURE_HEADER),
            timestamp=request.headers.get(SENDGRID_TIMESTAMP_HEADER),
            body=body,
            now=now,
            tolerance=feedback.sendgrid_tolerance,
        )
        events = sendgrid.parse_batch(body, received_at=now)
    return await _take_in(feedback, events)


@router.post("/v1/webhooks/twilio/status", response_model=WebhookAccepted)
async def twilio_status(request: Request) -> WebhookAccepted:
    feedback: Feedback = request.state.feedback
    with _counted(twilio.PROVIDER):
        form = await _verified_twilio_form(request, feedback)
        event = twilio.status_event(
            form, list(request.query_params.multi_items()), received_at=feedback.clock()
        )
    if learned := sms.recipient_of_status(event.raw["form"], event.raw["query"]):
        # So that a later inbound SMS from this number finds the customer.
        await asyncio.to_thread(feedback.store.remember_recipient, *learned, event.received_at)
    return await _take_in(feedback, [event])


@router.post("/v1/webhooks/twilio/inbound", response_class=Response)
@router.post("/v1/twilio/inbound", response_class=Response, include_in_schema=False)
async def twilio_inbound(request: Request) -> Response:
    """Twilio's incoming-message webhook: stored once, published, answered with TwiML."""
    feedback: Feedback = request.state.feedback
    with _counted(twilio.PROVIDER):
        form = await _verified_twilio_form(request, feedback)
        customer_number, our_number = sms.customer_numbers(form)
        recipient = None
        if customer_number and our_number:
            key = sms.number_pair_key(customer_number, our_number)
            recipient = await asyncio.to_thread(feedback.store.recipient, key)
        event = sms.inbound_event(form, recipient, received_at=feedback.clock())
    await _take_in(feedback, [event])
    help_text = feedback.settings.help_text(recipient.store_id if recipient else None)
    return Response(sms.twiml(help_text if event.kind == "help" else None), media_type="text/xml")


async def _verified_twilio_form(request: Request, feedback: Feedback) -> list[tuple[str, str]]:
    if feedback.twilio_auth_token is None:
        raise WebhookNotConfigured("the Twilio auth token is not configured")
    body = await _read_body(request, feedback.settings.max_body_bytes)
    try:
        form = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise InvalidPayload("the body is not a form", code="malformed_form", field="body") from None
    verify_twilio(
        feedback.twilio_auth_token,
        signature=request.headers.get(TWILIO_SIGNATURE_HEADER),
        url=_public_url(request, feedback.settings.public_base_url),
        params=form,
    )
    return form


async def _take_in(feedback: Feedback, events: list[ProviderEvent]) -> WebhookAccepted:
    intake = await take_in(
        events, feedback.store, feedback.relay, publish_timeout_s=feedback.settings.publish_timeout_s
    )
    return WebhookAccepted(received=intake.received, stored=intake.stored, duplicates=intake.duplicates)


@contextmanager
def _counted(provider: str) -> Iterator[None]:
    """Counts every refusal by provider and reason; signature failures apart from bad bodies."""
    try:
        yield
    except SIGNATURE_REJECTIONS as exc:
        metrics.SIGNATURE_FAILURES.labels(provider, exc.code).inc()
        raise
    except BoomerangError as exc:
        metrics.REJECTED.labels(provider, exc.code).inc()
        raise


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes", field="body")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes", field="body")
        chunks.append(chunk)
    return b"".join(chunks)


def _public_url(request: Request, public_base_url: str | None) -> str:
    """The URL Twilio signed: behind a proxy it is the public one, not what reached us."""
    if not public_base_url:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return public_base_url.rstrip("/") + request.url.path + query
