"""Reading request bodies without trusting them: bounded size (also after gunzip), strict JSON,
and the write key from HTTP Basic auth."""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

from starlette.requests import Request

from boomerang.ingest.domain.rejections import Rejected
from boomerang.shared.errors import BoomerangError, PayloadTooLarge


class UnsupportedEncoding(BoomerangError):
    status_code = 415
    code = "unsupported_encoding"


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing anything over `limit` bytes before reading it all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return _decoded(bytes(body), request.headers.get("content-encoding", "identity"), limit)


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


def _decoded(body: bytes, encoding: str, limit: int) -> bytes:
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
        raise _too_large(limit)
    return plain


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the body is larger than {limit} bytes", code="payload_too_large")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
