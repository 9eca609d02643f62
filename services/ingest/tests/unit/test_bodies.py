from __future__ import annotations

import base64
import gzip

import pytest
from starlette.requests import Request

from boomerang.ingest.domain.rejections import Rejected
from boomerang.ingest.entrypoints.bodies import parse_json, read_body, write_key_from_header
from boomerang.shared.errors import BoomerangError


def request(chunks: list[bytes], headers: dict[str, str] | None = None) -> tuple[Request, list[int]]:
    """A real Starlette request fed chunk by chunk; `pulled` counts the chunks it read."""
    pulled: list[int] = []
    pending = list(chunks)

    async def receive() -> dict:
        pulled.append(1)
        body = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    raw_headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/track",
        "headers": raw_headers,
        "query_string": b"",
    }
    return Request(scope, receive), pulled


async def test_a_body_within_the_limit_is_read_whole():
    req, _ = request([b'{"a":', b" 1}"])
    assert await read_body(req, 100) == b'{"a": 1}'


async def test_a_declared_length_over_the_limit_is_refused_unread():
    req, pulled = request([b"x" * 10], {"content-length": "101"})
    with pytest.raises(BoomerangError) as caught:
        await read_body(req, 100)
    refused = caught.value
    assert (refused.status_code, refused.code, refused.field, pulled) == (400, "payload_too_large", "body", [])
    assert refused.message == (
        "the body is larger than 100 bytes, the limit of POST /v1/track; nothing of it was accepted"
    )


async def test_an_undeclared_oversized_body_is_refused_without_reading_it_all():
    req, pulled = request([b"x" * 60] * 1000)  # chunked: no content-length
    with pytest.raises(BoomerangError) as caught:
        await read_body(req, 100)
    assert (caught.value.status_code, caught.value.code) == (400, "payload_too_large") and len(pulled) == 2


async def test_gzip_bodies_are_inflated_within_the_limit():
    req, _ = request([gzip.compress(b'{"a": 1}')], {"content-encoding": "gzip"})
    assert await read_body(req, 100) == b'{"a": 1}'


async def test_a_gzip_bomb_is_too_large():
    bomb = gzip.compress(b" " * 1_000_000)  # about 1 KB on the wire
    req, _ = request([bomb], {"content-encoding": "gzip"})
    with pytest.raises(BoomerangError) as caught:
        await read_body(req, 32 * 1024)
    assert (caught.value.status_code, caught.value.code) == (400, "payload_too_large")
    assert "32 KB (32,768 bytes)" in caught.value.message


async def test_other_encodings_are_unsupported():
    req, _ = request([b"x"], {"content-encoding": "br"})
    with pytest.raises(BoomerangError) as caught:
        await read_body(req, 100)
    assert caught.value.status_code == 415


@pytest.mark.parametrize(
    "body", [b"{", b"", b"[1]", b'{"a": NaN}', b"\xff\xfe\x00", b"[" * 5000 + b"]" * 5000]
)
def test_malformed_json_is_rejected(body):
    with pytest.raises(Rejected) as caught:
        parse_json(body)
    assert (caught.value.status_code, caught.value.code) == (400, "malformed_json")


def basic(user: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("header", "key"),
    [
        (None, None),
        (basic("wk_abc"), "wk_abc"),
        (basic("wk_abc", "ignored"), "wk_abc"),
        ("basic " + base64.b64encode(b"wk_abc").decode(), "wk_abc"),
        ("Bearer wk_abc", None),
        (basic(""), ""),
        ("Basic !!notbase64", "!!notbase64"),
    ],
)
def test_the_write_key_is_the_basic_auth_username(header, key):
    assert write_key_from_header(header) == key
