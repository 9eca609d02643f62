"""The store-administration commands, in-process, against both database backends."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from boomerang.ingest.entrypoints.cli import app

pytestmark = pytest.mark.integration


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BOOMERANG_INGEST_DATABASE_URL", database_url)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, list(args))

    return invoke


def test_store_and_key_lifecycle(run):
    created = run("stores", "create", "shop-1", "--name", "Shop One")
    assert created.exit_code == 0 and created.stdout.strip().startswith("wk_")
    random_key = created.stdout.strip()

    chosen = "demo-write-key-0123456789"
    added = run("stores", "add-key", "shop-1", "--write-key", chosen)
    assert (added.exit_code, added.stdout.strip()) == (0, chosen)

    listing = run("stores", "keys", "shop-1")
    rows = listing.stdout.splitlines()[1:]
    assert listing.exit_code == 0 and len(rows) == 2
    assert random_key not in listing.stdout and random_key[:10] in listing.stdout
    first_key_id = rows[0].split()[0]

    revoked = run("stores", "revoke", first_key_id)
    assert revoked.exit_code == 0
    rows = run("stores", "keys", "shop-1").stdout.splitlines()[1:]
    assert rows[0].split()[-1] != "-" and rows[1].split()[-1] == "-"


def test_creating_again_with_the_same_key_is_harmless_and_otherwise_refused(run):
    key = "demo-write-key-0123456789"
    assert run("stores", "create", "demo", "--write-key", key).stdout.strip() == key
    again = run("stores", "create", "demo", "--write-key", key)
    assert (again.exit_code, again.stdout.strip()) == (0, key)
    refused = run("stores", "create", "demo")
    assert refused.exit_code == 1 and "store_exists" in refused.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("stores", "keys", "nope"), "store_not_found"),
        (("stores", "revoke", "key_nope"), "key_not_found"),
        (("stores", "create", "a:b"), "invalid_store_id"),
        (("stores", "create", "x", "--write-key", "short"), "weak_write_key"),
    ],
)
def test_mistakes_exit_1_with_the_code(run, args, code):
    result = run(*args)
    assert result.exit_code == 1 and code in result.stderr
