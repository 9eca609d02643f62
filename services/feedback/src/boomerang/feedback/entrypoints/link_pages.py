"""The pages behind the signed links in our messages: unsubscribe (RFC 8058 one-click) and surveys.

GET never changes anything (mail scanners and link previews fetch every URL); POST does. Both
verify the link's signature; a POST answers 2xx only once Kafka acknowledged the event (503 with
Retry-After otherwise). Browsers (Accept: text/html) get a page, everyone else JSON.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from boomerang.feedback.bootstrap import Feedback
from boomerang.feedback.domain import customer_links
from boomerang.feedback.domain.errors import InvalidPayload, LinksNotConfigured
from boomerang.feedback.entrypoints import pages
from boomerang.feedback.entrypoints.webhooks import _read_body
from boomerang.feedback.service_layer.intake import take_in_acked
from boomerang.shared import links

router = APIRouter(tags=["links"])
ONE_CLICK = ("List-Unsubscribe", "One-Click")


@router.get(links.PATHS[links.UNSUBSCRIBE], response_class=HTMLResponse)
async def unsubscribe_page(request: Request) -> HTMLResponse:
    feedback: Feedback = request.state.feedback
    link = customer_links.verified(links.UNSUBSCRIBE, request.query_params, _keys(feedback))
    return HTMLResponse(pages.unsubscribe_confirm(link, str(request.url)))


@router.post(links.PATHS[links.UNSUBSCRIBE])
async def unsubscribe(request: Request) -> Response:
    """RFC 8058: the mail client POSTs `List-Unsubscribe=One-Click` to the header's URL; our own
    page's button posts the same."""
    feedback: Feedback = request.state.feedback
    form = await _form(request, feedback)
    link = customer_links.verified(links.UNSUBSCRIBE, _link_params(request, form), _keys(feedback))
    if form.get(ONE_CLICK[0]) != ONE_CLICK[1]:
        raise InvalidPayload(
            "the body must be List-Unsubscribe=One-Click", code="invalid_field", field=ONE_CLICK[0]
        )
    way = "page" if form.get("via") == "page" else "one_click"
    event = customer_links.unsubscribe_event(link, way=way, received_at=feedback.clock())
    new = await take_in_acked(
        event, feedback.store, feedback.relay, publish_timeout_s=feedback.settings.publish_timeout_s
    )
    if _wants_html(request):
        return HTMLResponse(pages.unsubscribed(link))
    return JSONResponse({"unsubscribed": True, "channel": link.channel, "duplicate": not new})


@router.get(links.PATHS[links.SURVEY], response_class=HTMLResponse)
async def survey_page(request: Request) -> HTMLResponse:
    feedback: Feedback = request.state.feedback
    link = customer_links.verified(links.SURVEY, request.query_params, _keys(feedback))
    ref = customer_links.link_ref(link)
    if await asyncio.to_thread(feedback.store.find, customer_links.SURVEY, ref):
        return HTMLResponse(pages.survey_thanks(already=True))
    return HTMLResponse(pages.survey_form(customer_links.SURVEYS[link.survey or ""], str(request.url)))


@router.post(links.PATHS[links.SURVEY])
async def answer_survey(request: Request) -> Response:
    """The first answer per message and survey is kept; later ones are acknowledged, not stored."""
    feedback: Feedback = request.state.feedback
    form = await _form(request, feedback)
    link = customer_links.verified(links.SURVEY, _link_params(request, form), _keys(feedback))
    score, answer = customer_links.survey_answer(customer_links.SURVEYS[link.survey or ""], form)
    event = customer_links.survey_event(link, score, answer, received_at=feedback.clock())
    new = await take_in_acked(
        event, feedback.store, feedback.relay, publish_timeout_s=feedback.settings.publish_timeout_s
    )
    if _wants_html(request):
        return HTMLResponse(pages.survey_thanks(already=not new))
    return JSONResponse({"recorded": True, "survey": link.survey, "duplicate": not new})


def _keys(feedback: Feedback) -> list[bytes]:
    if feedback.link_keys is None:
        raise LinksNotConfigured("BOOMERANG_LINK_SIGNING_KEY is not configured")
    return feedback.link_keys


def _link_params(request: Request, form: dict[str, str]) -> dict[str, str]:
    """The signed parameters travel in the URL's query; a form may repeat them as fields."""
    return {**form, **dict(request.query_params)}


async def _form(request: Request, feedback: Feedback) -> dict[str, str]:
    body = await _read_body(request, feedback.settings.max_body_bytes)
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        raise InvalidPayload("the body is not a form", code="malformed_form", field="body") from None


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")
