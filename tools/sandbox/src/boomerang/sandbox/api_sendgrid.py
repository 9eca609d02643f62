"""SendGrid v3: Mail Send and Email Activity."""

import json
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from boomerang.sandbox import sendgrid_activity
from boomerang.sandbox.api_common import sandbox_of
from boomerang.sandbox.faults import Fault
from boomerang.sandbox.sendgrid_events import delivery_events
from boomerang.sandbox.sendgrid_mail import MailError, messages_from_mail, validate_mail
from boomerang.sandbox.state import Sandbox, random_token

router = APIRouter(prefix="/v3", tags=["sendgrid"])

_FAULT_MESSAGES = {429: "too many requests", 500: "internal server error", 503: "service unavailable"}


def errors_response(
    status: int, errors: list[MailError], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"errors": [e.to_json() for e in errors]}, status_code=status, headers=headers)


def _unauthorized(request: Request) -> JSONResponse | None:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and key.strip():
        return None
    return errors_response(401, [MailError("authorization required", None)])


def fault_response(fault: Fault) -> JSONResponse:
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(fault.retry_after)
    if fault.status == 429:
        reset = int(time.time()) + (fault.retry_after or 1)
        headers |= {"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
    message = _FAULT_MESSAGES.get(fault.status, "error")
    return errors_response(fault.status, [MailError(message, None)], headers)


@router.post("/mail/send")
async def send_mail(request: Request) -> Response:
    sandbox = sandbox_of(request)
    if (denied := _unauthorized(request)) is not None:
        return denied
    fault = sandbox.faults.take("sendgrid")
    if fault is not None and not fault.after_accept:
        return fault_response(fault)
    try:
        body = json.loads(await request.body())
    except ValueError:
        return errors_response(400, [MailError("Bad Request", None)])
    if errors := validate_mail(body):
        return errors_response(400, errors)
    x_message_id = _accept(sandbox, body)
    if fault is not None:
        return fault_response(fault)
    return Response(status_code=202, headers={"X-Message-Id": x_message_id})


def _accept(sandbox: Sandbox, body: dict[str, Any]) -> str:
    x_message_id, now = random_token(), sandbox.clock()
    messages = messages_from_mail(body, x_message_id, now)
    sandbox.outbox.add(messages)
    events = delivery_events(messages, int(now.timestamp()), random_token)
    sandbox.sendgrid_webhook.send_in_background(events)
    return x_message_id


@router.get("/messages")
async def email_activity(request: Request, query: str = "", limit: int = 10) -> Response:
    sandbox = sandbox_of(request)
    if (denied := _unauthorized(request)) is not None:
        return denied
    if (fault := sandbox.faults.take("sendgrid")) is not None:
        return fault_response(fault)
    if not 1 <= limit <= 1000:
        return errors_response(400, [MailError("limit must be between 1 and 1000", "limit")])
    try:
        conditions = sendgrid_activity.parse_query(query)
    except sendgrid_activity.InvalidQuery as error:
        return errors_response(400, [MailError(str(error), "query")])
    rows = sendgrid_activity.search(sandbox.outbox.find(provider="sendgrid"), conditions, limit)
    return JSONResponse({"messages": rows})
