"""A FastAPI route served the Starlette way, for the endpoints every event goes through."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute
from starlette.routing import request_response


class PlainRoute(APIRoute):
    """Documented like any FastAPI route (path, responses, openapi_extra), but its endpoint is
    called with the Request alone and returns a Response: no dependency solving, no exit stacks.

    The ingest endpoints read and check their bodies themselves (size limits before parsing,
    gzip, per-event rejections), so FastAPI's request machinery only cost time: about a tenth of
    a millisecond per request, a quarter of the HTTP stack's share. Errors still reach the app's
    exception handlers.
    """

    def __init__(self, path: str, endpoint: Any, **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.app = request_response(endpoint)
