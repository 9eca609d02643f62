"""Twilio API 2010-04-01: create, list and fetch Messages."""

import base64
import binascii
import uuid
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from boomerang.sandbox.api_common import sandbox_of
from boomerang.sandbox.faults import Fault
from boomerang.sandbox.twilio_messages import (
    API_VERSION,
    ListQuery,
    message_from_form,
    message_page,
    message_resource,
    message_uri,
)
from boomerang.sandbox.twilio_rules import TwilioError, check_message_request

router = APIRouter(prefix=f"/{API_VERSION}/Accounts/{{account_sid}}", tags=["twilio"])

_FAULT_MESSAGES = {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


def error_response(error: TwilioError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error.to_json(), status_code=error.status, headers=headers)


def _unauthorized(request: Request, account_sid: str) -> JSONResponse | None:
    """Basic auth as the account itself or with an API key (SK...) of it."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    try:
        user, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        user, secret = "", ""
    if scheme.lower() == "basic" and secret and (user == account_sid or user.startswith("SK")):
        return None
    headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'}
    return error_response(TwilioError(20003, "Authenticate", 401), headers)


def fault_response(fault: Fault) -> JSONResponse:
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    message = _FAULT_MESSAGES.get(fault.status, "Error")
    return error_response(TwilioError(20000 + fault.status, message, fault.status), headers)


def _guard(request: Request, account_sid: str) -> tuple[JSONResponse | None, Fault | None]:
    """Refusal for bad credentials or a pending fault; an after-accept fault is handed back."""
    if (denied := _unauthorized(request, account_sid)) is not None:
        return denied, None
    fault = sandbox_of(request).faults.take("twilio")
    if fault is not None and not fault.after_accept:
        return fault_response(fault), None
    return None, fault


def _read_refusal(request: Request, account_sid: str) -> JSONResponse | None:
    refusal, fault = _guard(request, account_sid)
    # A read has nothing to accept, so even an after-accept fault fails it outright.
    return fault_response(fault) if fault is not None else refusal


@router.post("/Messages.json")
async def create_message(request: Request, account_sid: str) -> Response:
    refusal, fault = _guard(request, account_sid)
    if refusal is not None:
        return refusal
    form = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
    try:
        check_message_request(form)
    except TwilioError as error:
        return error_response(error)
    sandbox = sandbox_of(request)
    message = message_from_form(form, account_sid, f"SM{uuid.uuid4().hex}", sandbox.clock())
    sandbox.outbox.add([message])
    sandbox.twilio_callbacks.report_delivery_in_background(message)
    if fault is not None:
        return fault_response(fault)
    return JSONResponse(message_resource(message, just_created=True), status_code=201)


@router.get("/Messages.json")
async def list_messages(request: Request, account_sid: str) -> Response:
    if (refusal := _read_refusal(request, account_sid)) is not None:
        return refusal
    try:
        query = ListQuery.from_params(dict(request.query_params))
        page = message_page(account_sid, sandbox_of(request).outbox.find(provider="twilio"), query)
    except TwilioError as error:
        return error_response(error)
    return JSONResponse(page)


@router.get("/Messages/{sid}.json")
async def fetch_message(request: Request, account_sid: str, sid: str) -> Response:
    if (refusal := _read_refusal(request, account_sid)) is not None:
        return refusal
    message = sandbox_of(request).outbox.get(sid)
    if message is None or message.provider != "twilio" or message.account_sid != account_sid:
        uri = message_uri(account_sid, sid)
        return error_response(TwilioError(20404, f"The requested resource {uri} was not found", 404))
    return JSONResponse(message_resource(message))
