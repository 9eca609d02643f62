"""`boomerang stores ...`: keys, rotation, the Shopify secret and the rate limit, on both backends."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from boomerang.ingest.bootstrap import store_admin
from boomerang.ingest.entrypoints.cli import admin, app
from boomerang.ingest.settings import IngestSettings

pytestmark = pytest.mark.integration

SECRET = "shpss_0123456789abcdef0123456789abcdef"


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BOOMERANG_INGEST_DATABASE_URL", database_url)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, cli=admin):
        return runner.invoke(cli, list(args), input=input)

    return invoke


def stored(database_url: str, store_id: str):
    return asyncio.run(store_admin(IngestSettings(database_url=database_url)).get_store(store_id))


def rows(result) -> list[list[str]]:
    return [line.split() for line in result.stdout.splitlines()[1:]]


def test_create_with_a_shopify_secret_and_a_rate_limit(run, database_url):
    created = run("stores", "create", "shop-1", "--shopify-secret", SECRET, "--rate-limit", "25")
    assert created.exit_code == 0, created.output
    assert created.stdout.strip().startswith("wk_")  # the key alone on stdout
    assert SECRET not in created.output
    store = stored(database_url, "shop-1")
    assert (store.shopify_secret, store.rate_limit_per_s) == (SECRET, 25)

    shown = run("stores", "show", "shop-1")
    assert shown.exit_code == 0 and SECRET not in shown.output
    assert "shopify secret: set" in shown.stdout and "25 events/s" in shown.stdout
    assert "1 active, 0 revoked" in shown.stdout


def test_rotate_adds_a_key_and_revokes_the_old_one(run):
    first = run("stores", "create", "shop-1").stdout.strip()
    [[old_id, *_]] = rows(run("stores", "keys", "shop-1"))

    rotated = run("stores", "rotate", "shop-1", "--revoke", old_id)
    assert rotated.exit_code == 0, rotated.output
    new_key = rotated.stdout.strip()
    assert new_key.startswith("wk_") and new_key != first
    listing = rows(run("stores", "keys", "shop-1"))
    assert [(r[0] == old_id, r[-1] == "-") for r in listing] == [(True, False), (False, True)]
    assert first not in run("stores", "keys", "shop-1").stdout  # only prefixes are listed


def test_rotate_refuses_to_revoke_another_stores_key(run):
    run("stores", "create", "shop-1")
    run("stores", "create", "shop-2")
    [[other_id, *_]] = rows(run("stores", "keys", "shop-2"))
    refused = run("stores", "rotate", "shop-1", "--revoke", other_id)
    assert refused.exit_code == 1 and "key_not_found" in refused.stderr
    assert rows(run("stores", "keys", "shop-2"))[0][-1] == "-"
    assert len(rows(run("stores", "keys", "shop-1"))) == 1


def test_the_shopify_secret_is_read_from_stdin_or_an_option_and_never_printed(run, database_url):
    run("stores", "create", "shop-1")
    from_stdin = run("stores", "set-shopify-secret", "shop-1", input=SECRET + "\n")
    assert from_stdin.exit_code == 0, from_stdin.output
    assert SECRET not in from_stdin.output
    assert stored(database_url, "shop-1").shopify_secret == SECRET

    assert run("stores", "set-shopify-secret", "shop-1", "--secret", "whsec_other").exit_code == 0
    assert stored(database_url, "shop-1").shopify_secret == "whsec_other"

    assert run("stores", "set-shopify-secret", "shop-1", "--clear").exit_code == 0
    assert stored(database_url, "shop-1").shopify_secret is None
    assert "shopify secret: not set" in run("stores", "show", "shop-1").stdout


def test_the_rate_limit_can_be_set_and_reset(run, database_url):
    run("stores", "create", "shop-1")
    assert run("stores", "set-rate-limit", "shop-1", "0.5").exit_code == 0
    assert stored(database_url, "shop-1").rate_limit_per_s == 0.5
    reset = run("stores", "set-rate-limit", "shop-1", "--default")
    assert reset.exit_code == 0 and "default" in reset.stdout
    assert stored(database_url, "shop-1").rate_limit_per_s is None


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("stores", "set-rate-limit", "shop-1", "0"), "invalid_rate_limit"),
        (("stores", "set-rate-limit", "shop-1"), "invalid_rate_limit"),
        (("stores", "set-rate-limit", "nope", "5"), "store_not_found"),
        (("stores", "create", "shop-2", "--rate-limit", "-3"), "invalid_rate_limit"),
        (("stores", "create", "shop-2", "--shopify-secret", "two words"), "invalid_shopify_secret"),
        (("stores", "set-shopify-secret", "nope", "--secret", SECRET), "store_not_found"),
        (("stores", "rotate", "nope"), "store_not_found"),
        (("stores", "show", "nope"), "store_not_found"),
    ],
)
def test_mistakes_exit_1_with_the_code_and_change_nothing(run, database_url, args, code):
    run("stores", "create", "shop-1")
    result = run(*args)
    assert result.exit_code == 1 and code in result.stderr
    assert stored(database_url, "shop-2") is None
    assert stored(database_url, "shop-1").rate_limit_per_s is None


def test_boomerang_ingest_keeps_the_same_commands(run):
    created = run("stores", "create", "shop-1", cli=app)
    assert created.exit_code == 0 and created.stdout.strip().startswith("wk_")
    assert run("stores", "keys", "shop-1", cli=app).exit_code == 0


def test_both_console_scripts_are_installed():
    for script in ("boomerang", "boomerang-ingest"):
        path = Path(sys.executable).parent / script  # the venv's bin, where uv sync puts them
        done = subprocess.run([str(path), "stores", "--help"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "rotate" in done.stdout and "set-shopify-secret" in done.stdout
