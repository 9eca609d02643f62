"""The console entry point, run as a real process."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from boomerang.sandbox.cli import main


def test_serve_starts_with_env_settings(tmp_path: Path) -> None:
    port = _free_port()
    outbox = tmp_path / "outbox.jsonl"
    env = {**os.environ, "BOOMERANG_SANDBOX_OUTBOX_PATH": str(outbox)}
    process = subprocess.Popen(
        [sys.executable, "-m", "boomerang.sandbox", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}")
        sms = {"To": "+447700900123", "From": "+15005550006", "Body": "Hi"}
        account = "AC" + "0" * 32
        created = httpx.post(
            f"http://127.0.0.1:{port}/2010-04-01/Accounts/{account}/Messages.json",
            data=sms,
            auth=(account, "t"),
        )
        assert created.status_code == 201
        assert created.json()["sid"] in outbox.read_text()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_keygen_prints_the_public_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["keygen", "--private-key", str(tmp_path / "k.pem"), "--public-key", str(tmp_path / "k.pub")])

    printed = capsys.readouterr().out.strip()
    assert printed == (tmp_path / "k.pub").read_text().strip()
    assert printed.startswith("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE")  # DER prefix of a P-256 key
    assert oct((tmp_path / "k.pem").stat().st_mode)[-3:] == "600"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("sandbox did not become healthy")
