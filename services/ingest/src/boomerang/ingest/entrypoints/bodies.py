"""Reading request bodies without trusting them: bounded size (also after gunzip), strict JSON,
and the write key from HTTP Basic auth or the body."""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any, NamedTuple

from starlette.requests import Request

from boomerang.ingest.domain.limits import OverLimit, body_too_large
from boomerang.ingest.domain.rejections import Rejected
from boomerang.ingest.service_layer.auth import store_of_key
from boomerang.ingest.service_layer.ports import StoreRepository
from boomerang.shared.errors import BoomerangError


class UnsupportedEncoding(BoomerangError):
    status_code = 415
    code = "unsupported_encoding"


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing anything over `limit` bytes (400 `payload_too_large`) before reading it all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(request, limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(request, limit)
    plain = _inflated(bytes(body), request.headers.get("content-encoding", "identity"), limit)
    if plain is None:
        raise _too_large(request, limit)
    return plain


class Authenticated(NamedTuple):
    body: dict[str, Any]
    store_id: str  # the write key's store, never one the body names
    size: int  # bytes, after any gzip


async def authenticated_body(request: Request, stores: StoreRepository, limit: int) -> Authenticated:
    """A Segment or native request: size first (cheap), then the header key before parsing (a
    wrong key costs no JSON), and a `writeKey` in the body only after parsing."""
    raw = await read_body(request, limit)
    header_key = write_key_from_header(request.headers.get("authorization"))
    store_id = await store_of_key(stores, header_key) if header_key else None
    body = parse_json(raw)
    if store_id is None:
        body_key = body.get("writeKey")
        store_id = await store_of_key(stores, body_key if isinstance(body_key, str) else None)
    return Authenticated(body, store_id, len(raw))


def parse_json(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise Rejected("malformed_json", f"the body is not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(parsed, dict):
        raise Rejected("malformed_json", "the body must be a JSON object")
    return parsed


def write_key_from_header(authorization: str | None) -> str | None:
    """HTTP Basic with the write key as username and an empty password (Segment's scheme)."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return credentials.strip() or None  # unreadable: looked up, so answered as a wrong key
    return decoded.partition(":")[0]


def _inflated(body: bytes, encoding: str, limit: int) -> bytes | None:
    """The body as sent before any gzip; None if that is over `limit`."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise UnsupportedEncoding(f"Content-Encoding {encoding!r} is not supported; use gzip or none")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        # Bounded output, so a small gzip bomb cannot blow up into gigabytes.
        plain = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise Rejected("malformed_json", "the body is not valid gzip") from None
    if len(plain) > limit or inflater.unconsumed_tail:
        return None
    return plain


def _too_large(request: Request, limit: int) -> OverLimit:
    return body_too_large(limit, f"{request.method} {request.url.path}")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
