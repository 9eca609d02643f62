"""The outbox for people (HTML) and for tests (JSON)."""

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from boomerang.sandbox.api_common import sandbox_of, wants_json
from boomerang.sandbox.outbox import OutboxMessage

router = APIRouter(tags=["outbox"])

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True),
)


def _listing(request: Request, to: str | None, provider: str | None) -> dict[str, Any]:
    messages = sandbox_of(request).outbox.find(to=to, provider=provider)
    return {"messages": [m.to_json() for m in messages], "count": len(messages)}


@router.get("/outbox.json")
async def outbox_json(request: Request, to: str | None = None, provider: str | None = None) -> dict[str, Any]:
    return _listing(request, to, provider)


@router.get("/outbox", response_model=None)
async def outbox(request: Request, to: str | None = None, provider: str | None = None) -> Response:
    if wants_json(request):
        return JSONResponse(_listing(request, to, provider))
    messages = sandbox_of(request).outbox.find(to=to, provider=provider)
    page = _templates.get_template("outbox.html").render(messages=messages, to=to, provider=provider)
    return HTMLResponse(page)


@router.delete("/outbox", status_code=204)
async def clear_outbox(request: Request) -> None:
    sandbox_of(request).outbox.clear()


def _message(request: Request, message_id: str) -> OutboxMessage:
    message = sandbox_of(request).outbox.get(message_id)
    if message is None:
        raise HTTPException(404, f"no message {message_id} in the outbox")
    return message


@router.get("/outbox/{message_id}", response_model=None)
async def outbox_message(request: Request, message_id: str) -> Response:
    message = _message(request, message_id)
    if wants_json(request):
        return JSONResponse(message.to_json())
    return HTMLResponse(_templates.get_template("message.html").render(message=message))


@router.get("/outbox/{message_id}/body.html")
async def outbox_message_html(request: Request, message_id: str) -> HTMLResponse:
    message = _message(request, message_id)
    if message.html is None:
        raise HTTPException(404, f"message {message_id} has no HTML part")
    # Mail HTML is untrusted: no scripts, no same-origin access, even when opened directly.
    return HTMLResponse(message.html, headers={"Content-Security-Policy": "sandbox"})
