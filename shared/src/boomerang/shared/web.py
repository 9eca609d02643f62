"""What every FastAPI service shares: the error shape and the ops endpoints."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from boomerang.shared.errors import BoomerangError, error_body
from boomerang.shared.metrics import render

ReadinessCheck = Callable[[], Awaitable[bool]]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(BoomerangError)
    async def boomerang_error(_: Request, exc: BoomerangError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers())

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
        code = "malformed_json" if first.get("type") == "json_invalid" else "invalid_field"
        body = error_body(code, first.get("msg", "invalid request"), ".".join(loc) or None)
        body["error"]["details"] = [
            {"field": ".".join(str(p) for p in e.get("loc", ())[1:]), "message": e.get("msg")}
            for e in exc.errors()[:20]
        ]
        return JSONResponse(body, status_code=400)

    @app.exception_handler(HTTPException)
    async def routing_error(_: Request, exc: HTTPException) -> JSONResponse:
        # Unknown paths (404) and wrong methods (405) answer in the same shape as every error.
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail), None), status_code=exc.status_code, headers=exc.headers
        )


def ops_router(checks: dict[str, ReadinessCheck]) -> APIRouter:
    """/healthz says the process is alive; /readyz that its dependencies answer."""
    router = APIRouter(tags=["ops"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        results = {name: await _safe(check) for name, check in checks.items()}
        ready = all(results.values())
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": results},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics")
    async def metrics() -> Response:
        payload, content_type = render()
        return Response(payload, media_type=content_type)

    return router


async def _safe(check: ReadinessCheck) -> bool:
    try:
        return bool(await check())
    except Exception:  # noqa: BLE001 - a failing check means not ready, not a 500
        return False
