"""Helpers the provider routers share."""

from fastapi import Request

from boomerang.sandbox.state import Sandbox


def sandbox_of(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")
