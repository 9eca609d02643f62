"""The OpenAPI document: request and answer schemas for every route, published at /openapi.json.

The ingest routes read their bodies themselves (size limits before parsing, gzip, per-event
rejections), so FastAPI cannot derive their schemas from a parameter. These models only
describe the wire format; they are registered as components, and each route names its own
through `openapi_extra` (`segment_operation`, `native_operation`).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from fastapi import FastAPI
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, create_model

from boomerang.ingest.domain.mapping import EMAIL_CONSENT, SMS_CONSENT, ConsentTraits
from boomerang.ingest.domain.native import NATIVE_EVENTS, CustomerId, EventId

REF = "#/components/schemas/{model}"
WRITE_KEY = "writeKey"

# --- Segment HTTP Tracking API ------------------------------------------------------------


class _Open(BaseModel):
    """Segment libraries send many fields ingest does not read; all of them are allowed."""

    model_config = ConfigDict(extra="allow")


Id = Annotated[Union[str, int], Field(description="a string; numbers are read as strings")]


class SegmentContext(_Open):
    traits: dict[str, Any] | None = Field(default=None, description="email/phone for orders")
    page: dict[str, Any] | None = Field(default=None, description="url, path, title, referrer")
    timezone: str | None = Field(default=None, description="IANA name; ignored if not one")
    locale: str | None = Field(default=None, description="e.g. en-US; ignored if not one")


class SegmentCommon(_Open):
    writeKey: str | None = Field(default=None, description="instead of Basic auth")
    messageId: str | None = Field(default=None, max_length=128, description="de-duplication key")
    userId: Id | None = Field(default=None, description="userId or anonymousId is required")
    anonymousId: Id | None = None
    timestamp: datetime | None = Field(default=None, description="when it happened")
    originalTimestamp: datetime | None = Field(default=None, description="device clock; see sentAt")
    sentAt: datetime | None = Field(default=None, description="device clock when sent")
    context: SegmentContext | None = None
    integrations: dict[str, Any] | None = None


ConsentFlag = Annotated[
    Union[bool, str],
    Field(
        description="true/false, or one of the strings true/false/yes/no/1/0/subscribed/"
        "unsubscribed/not_subscribed/opted_in/opted_out (anything else is invalid_consent)"
    ),
]


class SegmentConsent(_Open):
    """A marketing consent in one trait, with where and when it was given."""

    subscribed: ConsentFlag
    source: str | None = Field(
        default=None, max_length=100, description="where it was collected, e.g. checkout; default segment"
    )
    at: datetime | None = Field(default=None, description="when it was given; default the event's time")


class _SegmentTraits(_Open):
    email: str | None = None
    phone: str | None = Field(default=None, description="E.164, or national in the default region")
    firstName: str | None = Field(default=None, max_length=200, description="also first_name")
    first_name: str | None = Field(default=None, max_length=200)
    lastName: str | None = Field(default=None, max_length=200, description="also last_name")
    last_name: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, description="IANA name, e.g. Europe/Amsterdam")
    locale: str | None = Field(default=None, description="a language tag, e.g. en-US (en_US reads as en-US)")
    birthday: date | datetime | None = Field(
        default=None,
        description="an ISO date (1990-05-17), or a date-time whose calendar date is taken as written; "
        "from 1900 to today",
    )


def _consent_traits(names: ConsentTraits, what: str) -> dict[str, Any]:
    """The traits of one consent, by every name ingest reads (the first present wins)."""
    read = (
        f"{what} marketing consent, a flag or {{subscribed, source, at}}; "
        f"the first present of {'/'.join(names.flags)} counts"
    )
    fields: dict[str, Any] = {
        flag: (Union[ConsentFlag, SegmentConsent, None], Field(default=None, description=read))
        for flag in names.flags
    }
    for source in names.sources:
        fields[source] = (
            str | None,
            Field(default=None, max_length=100, description=f"where the {what} consent flag was collected"),
        )
    for at in names.times:
        fields[at] = (
            datetime | None,
            Field(default=None, description=f"when the {what} consent flag was given (no offset: UTC)"),
        )
    return fields


SegmentTraits = create_model(
    "SegmentTraits",
    __base__=_SegmentTraits,
    __doc__="The traits ingest reads (any others are kept as they are). A consent's source and time "
    "traits count only beside its flag; the object form carries its own.",
    **_consent_traits(EMAIL_CONSENT, "email"),
    **_consent_traits(SMS_CONSENT, "SMS"),
)


class SegmentIdentify(SegmentCommon):
    type: Literal["identify"] | None = None
    traits: SegmentTraits | None = None


class SegmentTrack(SegmentCommon):
    type: Literal["track"] | None = None
    event: str = Field(description="E-commerce Spec v2 name (Order Completed, ...) or any other")
    properties: dict[str, Any] | None = Field(default=None, description="the event's properties")


class SegmentPage(SegmentCommon):
    type: Literal["page"] | None = None
    name: str | None = None
    category: str | None = None
    properties: dict[str, Any] | None = Field(default=None, description="url, path, title, referrer")


class SegmentScreen(SegmentCommon):
    type: Literal["screen"] | None = None
    name: str | None = None
    properties: dict[str, Any] | None = None


class SegmentGroup(SegmentCommon):
    type: Literal["group"] | None = None
    groupId: Id | None = None
    traits: dict[str, Any] | None = None


class SegmentAlias(SegmentCommon):
    type: Literal["alias"] | None = None
    previousId: Id | None = Field(default=None, description="the id this customer had before")


class SegmentCall(SegmentCommon):
    """Any call; `type` says which (a batch item, or a route that fixes it)."""

    type: str | None = Field(default=None, description="identify, track, page, screen, group or alias")
    event: str | None = None
    name: str | None = None
    traits: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None


class SegmentBatch(_Open):
    batch: list[SegmentCall] = Field(description="up to the batch limits (2,500 calls, 500 KB)")
    writeKey: str | None = None
    context: SegmentContext | None = Field(default=None, description="merged into every call's")
    sentAt: datetime | None = None
    integrations: dict[str, Any] | None = None


# --- Shopify webhooks ------------------------------------------------------------------------
# Shopify's payloads as ingest reads them; Shopify sends many more fields, all allowed. Ids are
# numbers, money is a decimal string ("12.34"), times are ISO 8601 with an offset.

ShopifyMoney = Annotated[Union[Decimal, None], Field(default=None, description='decimal string: "12.34"')]


class ShopifyConsent(_Open):
    state: str | None = Field(default=None, description="subscribed is a yes; unsubscribed, pending... no")
    opt_in_level: str | None = Field(default=None, description="e.g. confirmed_opt_in; part of the source")
    consent_updated_at: datetime | None = None
    consent_collected_from: str | None = Field(default=None, description="SMS: SHOPIFY or OTHER")


class ShopifyCustomer(_Open):
    """customers/create, customers/update; also an order's or checkout's `customer`."""

    id: Id
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email_marketing_consent: ShopifyConsent | None = None
    sms_marketing_consent: ShopifyConsent | None = None
    accepts_marketing: bool | None = Field(default=None, description="before API 2022-04; read for email")
    created_at: datetime | None = None
    updated_at: datetime | None = Field(default=None, description="the event's time")


class ShopifyLineItem(_Open):
    product_id: Id | None = Field(default=None, description="else sku, else title identifies the line")
    sku: str | None = None
    title: str | None = None
    name: str | None = Field(default=None, description="the title with the variant")
    price: Decimal = Field(description='per unit, a decimal string, e.g. "12.34"')
    quantity: int = 1


class ShopifyOrder(_Open):
    """orders/create, orders/paid (total_price required), orders/cancelled."""

    id: Id
    email: str | None = Field(default=None, description="else contact_email, else the customer's")
    contact_email: str | None = None
    phone: str | None = None
    created_at: datetime | None = None
    processed_at: datetime | None = Field(default=None, description="the order's time (else created_at)")
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    currency: str | None = Field(default=None, description="the shop's currency, ISO 4217")
    total_price: ShopifyMoney
    subtotal_price: ShopifyMoney
    total_tax: ShopifyMoney
    total_discounts: ShopifyMoney
    total_shipping_price_set: dict[str, Any] | None = Field(default=None, description="its shop_money.amount")
    discount_codes: list[dict[str, Any]] | None = Field(default=None, description="their code is read")
    line_items: list[ShopifyLineItem] | None = None
    customer: ShopifyCustomer | None = Field(default=None, description="none for a guest")
    checkout_token: str | None = Field(default=None, description="a guest is known by their checkout")


class ShopifyRefundLine(_Open):
    quantity: int = 1
    line_item: ShopifyLineItem


class ShopifyTransaction(_Open):
    kind: str | None = Field(default=None, description="only refund transactions ...")
    status: str | None = Field(default=None, description="... with status success count")
    amount: ShopifyMoney
    currency: str | None = None


class ShopifyRefund(_Open):
    """refunds/create: keyed to the customer of its order."""

    id: Id
    order_id: Id
    created_at: datetime | None = None
    processed_at: datetime | None = None
    note: str | None = Field(default=None, description="the reason")
    refund_line_items: list[ShopifyRefundLine] | None = None
    transactions: list[ShopifyTransaction] | None = None


class ShopifyCheckout(_Open):
    """checkouts/create: totals in the buyer's (presentment) currency."""

    token: str | None = Field(default=None, description="the checkout's id (else id)")
    id: Id | None = None
    email: str | None = None
    phone: str | None = None
    created_at: datetime | None = None
    currency: str | None = None
    presentment_currency: str | None = None
    total_price: ShopifyMoney
    line_items: list[ShopifyLineItem] | None = None
    abandoned_checkout_url: str | None = Field(default=None, description="becomes recovery_url")
    customer: ShopifyCustomer | None = None


ShopifyWebhook = Annotated[
    Union[ShopifyOrder, ShopifyRefund, ShopifyCustomer, ShopifyCheckout],
    Field(description="the payload of the topic named in X-Shopify-Topic, as Shopify signed it"),
]


# --- Answers --------------------------------------------------------------------------------


class Rejection(BaseModel):
    index: int = Field(description="position in the request")
    code: str
    message: str
    field: str | None = Field(description="path, e.g. batch[3].properties.products[0].price")


class ErrorDetail(_Open):
    code: str = Field(description="machine-readable, e.g. invalid_phone")
    message: str
    field: str | None = Field(description="where, e.g. traits.phone")


class Error(_Open):
    """Every refusal; when every event of a batch was invalid, also the per-event details."""

    error: ErrorDetail
    success: Literal[False] | None = None
    accepted: Literal[0] | None = None
    rejected: list[Rejection] | None = None


class Accepted(BaseModel):
    success: Literal[True]


class AcceptedId(BaseModel):
    index: int
    id: str = Field(description="the event's id (the messageId): the one sent, or the one assigned")


class BatchAnswer(BaseModel):
    success: Literal[True]
    accepted: int = Field(description="events taken (published now or before, as duplicates)")
    deduplicated: int = Field(description="of those, already published before")
    rejected: list[Rejection]
    ids: list[AcceptedId] = Field(description="which events were taken, by index, with their ids")


class NativeAnswer(BatchAnswer):
    pass


class SchemaLink(BaseModel):
    type: str
    schema_version: int
    description: str | None
    url: str = Field(description="GET it for the JSON Schema of `data`")


class SchemaIndex(BaseModel):
    schemas: list[SchemaLink]


class ShopifyAnswer(BaseModel):
    success: Literal[True]
    deduplicated: int | None = Field(default=None, description="1 when this delivery was taken before")
    ignored: Literal[True] | None = Field(default=None, description="a topic Boomerang does not use")


class ErasureAccepted(BaseModel):
    success: Literal[True]
    request_id: str = Field(description="the id of the ErasureRequested event on privacy.erasure.v1")


# --- Native events ---------------------------------------------------------------------------


def _native_model(event_type: str, data: type[BaseModel]) -> type[BaseModel]:
    return create_model(
        f"{data.__name__}Event",
        __config__=ConfigDict(extra="forbid"),
        __doc__=f"A `{event_type}` event; `data` is {data.__name__} (GET /v1/schemas/{event_type}).",
        id=(EventId | None, Field(default=None, description="de-duplication key; assigned when missing")),
        type=(Literal[event_type], ...),  # type: ignore[valid-type]
        time=(AwareDatetime | None, Field(default=None, description="when it happened; receipt if missing")),
        customer_id=(CustomerId, Field(description="the shop's id of the customer")),
        data=(data, ...),
    )


AnyNativeEvent = Annotated[
    Union[tuple(_native_model(t, m) for t, m in NATIVE_EVENTS.items())],  # type: ignore[misc]
    Field(discriminator="type"),
]


class NativeEventList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[AnyNativeEvent] = Field(description="up to the batch limits (2,500 events, 500 KB)")
    writeKey: str | None = Field(default=None, description="instead of Basic auth")


def _components() -> dict[str, Any]:
    schemas: dict[str, Any] = {}

    def add(name: str, shape: Any, mode: Literal["validation", "serialization"]) -> None:
        schema = TypeAdapter(shape).json_schema(ref_template=REF, mode=mode)
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema

    for request in (
        SegmentIdentify, SegmentTrack, SegmentPage, SegmentScreen, SegmentGroup, SegmentAlias,
        SegmentCall, SegmentBatch, NativeEventList,
    ):  # fmt: skip
        add(request.__name__, request, "validation")
    add("NativeEvent", AnyNativeEvent, "validation")
    add("ShopifyWebhook", ShopifyWebhook, "validation")
    for answer in (Error, Accepted, BatchAnswer, NativeAnswer, ShopifyAnswer, SchemaIndex, ErasureAccepted):
        add(answer.__name__, answer, "serialization")
    return schemas


COMPONENTS = _components()
SECURITY_SCHEMES = {
    WRITE_KEY: {
        "type": "http",
        "scheme": "basic",
        "description": "the store's write key as the username, an empty password",
    }
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def answers(
    success: str | None,
    status: int = 200,
    *,
    errors: tuple[int, ...] = (),
    texts: dict[int, str] | None = None,
    headers: dict[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The responses of an operation: the success schema, and the error shape for each code
    (`texts` and `headers` replace the usual description and headers of a code)."""
    texts = {**_ERROR_TEXTS, **(texts or {})}
    headers = _HEADERS if headers is None else headers
    documented: dict[str, Any] = {str(status): _json(_ref(success))} if success else {}
    for code in errors:
        documented[str(code)] = {"description": texts.get(code, "error"), **_json(_ref("Error"))}
        if code in headers:
            documented[str(code)]["headers"] = headers[code]
    return documented


_ERROR_TEXTS = {
    400: "invalid request: error.code and error.field say what and where; over a limit, "
    "payload_too_large (field body: 32 KB a call, 500 KB a batch) or too_many_events "
    "(field batch or events: 2,500)",
    401: "missing_write_key or invalid_write_key",
    403: "store_mismatch: the write key belongs to another store",
    404: "not found",
    415: "unsupported_encoding",
    429: "rate_limited (Retry-After)",
    503: "kafka_unavailable or database_unavailable (Retry-After)",
}
_RETRY_AFTER = {
    "Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}
}
_HEADERS = {
    401: {
        "WWW-Authenticate": {"description": 'Basic realm="boomerang-ingest"', "schema": {"type": "string"}}
    },
    429: _RETRY_AFTER,
    503: _RETRY_AFTER,
}
_INGEST_ERRORS = (400, 401, 415, 429, 503)


def segment_operation(body: str, answer: str = "Accepted") -> dict[str, Any]:
    """`openapi_extra` of a Segment route: its body, answers and the write key."""
    return {
        "requestBody": {"required": True, **_json(_ref(body))},
        "responses": answers(answer, errors=_INGEST_ERRORS),
        # The key may come in the body instead (writeKey), so Basic auth is optional here.
        "security": [{WRITE_KEY: []}, {}],
    }


def native_operation() -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            **_json({"oneOf": [_ref("NativeEvent"), _ref("NativeEventList")]}),
        },
        "responses": answers("NativeAnswer", errors=_INGEST_ERRORS),
        "security": [{WRITE_KEY: []}, {}],
    }


def shopify_operation(headers: dict[str, tuple[bool, str]]) -> dict[str, Any]:
    """`openapi_extra` of the Shopify webhook route: the signed payload, Shopify's headers (name:
    (required, description)), and its answers. No write key: the signature is the credential."""
    return {
        "parameters": [
            {"name": name, "in": "header", "required": required, "description": text}
            | {"schema": {"type": "string"}}
            for name, (required, text) in headers.items()
        ],
        "requestBody": {"required": True, **_json(_ref("ShopifyWebhook"))},
        "responses": answers(
            "ShopifyAnswer",
            errors=(400, 401, 415, 429, 503),
            texts={
                400: "a signed payload ingest cannot use (error.code, error.field: a path in the payload); "
                "over max_shopify_body_bytes (1 MB), payload_too_large",
                401: "invalid_signature: X-Shopify-Hmac-SHA256 does not match the store's Shopify secret "
                "(or there is none)",
                429: "rate_limited: the store is over its rate (Retry-After); Shopify retries",
                503: "kafka_unavailable (Retry-After); Shopify retries",
            },
            headers={429: _RETRY_AFTER, 503: _RETRY_AFTER},
        ),
    }


def erasure_operation() -> dict[str, Any]:
    return {
        "responses": answers("ErasureAccepted", 202, errors=(400, 401, 403, 429, 503)),
        "security": [{WRITE_KEY: []}],
    }


def install_openapi(app: FastAPI) -> None:
    """Complete FastAPI's document with the components the routes refer to (once, then cached)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _complete(generate())  # generate() caches the document in app.openapi_schema
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _complete(document: dict[str, Any]) -> None:
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).update(COMPONENTS)
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            _errors_as_answered(operation["responses"])
        _ops_answers(path, operations)
    _drop_unreferenced(document, ("HTTPValidationError", "ValidationError"))


def _errors_as_answered(responses: dict[str, Any]) -> None:
    """Say what the app really answers: request validation is 400 (never 422), in the error shape."""
    unprocessable = responses.pop("422", None)
    if unprocessable is not None and "400" not in responses:
        responses["400"] = {"description": _ERROR_TEXTS[400]}
    for code, response in responses.items():
        if code[0] in "45" and "content" not in response:
            response.update(_json(_ref("Error")))


def _ops_answers(path: str, operations: dict[str, Any]) -> None:
    # The shared ops router does not describe these itself.
    if path == "/metrics" and "get" in operations:
        operations["get"]["responses"]["200"]["content"] = {"text/plain": {"schema": {"type": "string"}}}
    if path == "/readyz" and "get" in operations:
        ready = operations["get"]["responses"]
        ready.setdefault("503", {**ready["200"], "description": "a dependency does not answer"})


def _drop_unreferenced(document: dict[str, Any], names: tuple[str, ...]) -> None:
    """FastAPI's 422 schemas, once no answer refers to them any more (in order: the first uses the second)."""
    schemas = document["components"]["schemas"]
    for name in names:
        if name in schemas:
            kept = schemas.pop(name)
            if REF.format(model=name) in json.dumps(document):
                schemas[name] = kept
