"""Waiting for a started process to answer over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx


def wait_until_ready(
    url: str,
    *,
    timeout: float = 60,
    alive: Callable[[], bool] = lambda: True,
    describe: Callable[[], str] = lambda: "",
) -> None:
    """Poll `url` until it answers 200; fail at once, with what the process said, if it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"the process behind {url} exited while starting:\n{describe()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout}s:\n{describe()}")
