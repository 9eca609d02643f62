"""`boomerang-ingest`: run the API, and manage stores and their write keys."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Annotated

import typer

from boomerang.ingest.bootstrap import store_admin
from boomerang.ingest.service_layer import stores as use_cases
from boomerang.ingest.service_layer.stores import IssuedKey
from boomerang.ingest.settings import IngestSettings
from boomerang.shared.errors import BoomerangError

app = typer.Typer(help="Boomerang ingest: Segment-compatible event API into Kafka.", no_args_is_help=True)
stores_app = typer.Typer(help="Stores (shops) and their write keys.", no_args_is_help=True)
app.add_typer(stores_app, name="stores")
db_app = typer.Typer(help="Ingest's database.", no_args_is_help=True)
app.add_typer(db_app, name="db")

WriteKeyOption = Annotated[
    str | None,
    typer.Option("--write-key", help="use this key instead of a random one (demos; 16+ characters)"),
]


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default: BOOMERANG_INGEST_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default: BOOMERANG_INGEST_PORT (8001)")] = None,
) -> None:
    """Run the HTTP API with uvicorn."""
    import uvicorn

    from boomerang.ingest.entrypoints.app import create_app
    from boomerang.shared.logs import configure_logging

    settings = IngestSettings()
    configure_logging("ingest", settings.common.log_level, json=settings.common.log_json)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,  # keep our JSON logging
        proxy_headers=True,
        ws="none",  # no websockets here; skips loading them
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database (BOOMERANG_INGEST_DATABASE_URL) to the newest schema; serve does it too."""
    from boomerang.ingest.migrations import upgrade
    from boomerang.shared.logs import configure_logging

    settings = IngestSettings()
    configure_logging("ingest", settings.common.log_level, json=settings.common.log_json)
    upgrade(settings.database_url)


@stores_app.command("create")
def create(
    store_id: str,
    name: Annotated[str | None, typer.Option(help="display name (default: the id)")] = None,
    write_key: WriteKeyOption = None,
) -> None:
    """Create a store and print its first write key (shown only now)."""
    issued = _run(use_cases.create_store(_stores(), store_id, name=name, chosen_key=write_key, now=_now()))
    _print_issued(issued, "store already exists with this key" if issued.existed else "store created")


@stores_app.command("add-key")
def add_key(store_id: str, write_key: WriteKeyOption = None) -> None:
    """Add another write key to a store (rotation: add, deploy, then revoke the old one)."""
    _print_issued(_run(use_cases.add_key(_stores(), store_id, chosen_key=write_key, now=_now())), "key added")


@stores_app.command("keys")
def keys(store_id: str) -> None:
    """List a store's keys: id, prefix, created, revoked."""
    found = _run(use_cases.keys_of(_stores(), store_id))
    typer.echo(f"{'KEY ID':<22} {'PREFIX':<12} {'CREATED':<26} REVOKED")
    for key in found:
        created = key.created_at.isoformat(timespec="seconds")
        revoked = key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "-"
        typer.echo(f"{key.id:<22} {key.prefix + '…':<12} {created:<26} {revoked}")


@stores_app.command("revoke")
def revoke(key_id: str) -> None:
    """Revoke a key: requests with it get 401 invalid_write_key from now on."""
    key = _run(use_cases.revoke_key(_stores(), key_id, now=_now()))
    typer.echo(f"revoked {key.id} of store {key.store_id} at {key.revoked_at.isoformat(timespec='seconds')}")


def _stores():
    return store_admin(IngestSettings())


def _run(coroutine):
    try:
        return asyncio.run(coroutine)
    except BoomerangError as exc:
        typer.echo(f"error: {exc.message} ({exc.code})", err=True)
        raise typer.Exit(1) from None


def _print_issued(issued: IssuedKey, what: str) -> None:
    typer.echo(f"{what}: store {issued.store_id}, key id {issued.key_id}", err=True)
    typer.echo(issued.key)  # alone on stdout, so scripts can capture it


def _now() -> datetime:
    return datetime.now(timezone.utc)


def main() -> None:
    app()
