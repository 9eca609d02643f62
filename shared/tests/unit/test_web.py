"""Every answer a service gives on failure has the one error shape, routing errors included."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from boomerang.shared.errors import BadRequest
from boomerang.shared.web import install_error_handlers


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/things")
    async def refuse() -> None:
        raise BadRequest("no things today", field="thing", code="no_things")

    return app


async def _call(method: str, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, path)


async def test_a_domain_error_keeps_its_code_and_field():
    answer = await _call("POST", "/things")
    assert answer.status_code == 400
    assert answer.json()["error"] == {"code": "no_things", "message": "no things today", "field": "thing"}


async def test_an_unknown_path_answers_in_the_error_shape():
    answer = await _call("GET", "/nowhere")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


async def test_a_wrong_method_answers_in_the_error_shape_with_allow():
    answer = await _call("GET", "/things")
    assert answer.status_code == 405
    assert answer.json()["error"]["code"] == "method_not_allowed"
    assert answer.headers["allow"] == "POST"
