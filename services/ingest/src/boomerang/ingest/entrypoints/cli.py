"""`boomerang-ingest`: run the API, and manage stores, their write keys and limits.

`boomerang` is the administration part alone: `boomerang stores create|keys|rotate|revoke|...`.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timezone
from typing import Annotated

import typer

from boomerang.ingest.bootstrap import store_admin
from boomerang.ingest.service_layer import stores as use_cases
from boomerang.ingest.domain.stores import Store
from boomerang.ingest.service_layer.stores import IssuedKey
from boomerang.ingest.settings import IngestSettings
from boomerang.shared.cli import database_commands
from boomerang.shared.errors import BoomerangError

app = typer.Typer(help="Boomerang ingest: Segment-compatible event API into Kafka.", no_args_is_help=True)
stores_app = typer.Typer(
    help="Stores (shops): write keys, Shopify secret, rate limit. Secrets are never printed back.",
    no_args_is_help=True,
)
app.add_typer(stores_app, name="stores")
app.add_typer(database_commands("ingest", IngestSettings), name="db")
admin = typer.Typer(help="Administer Boomerang: stores, their keys and limits.", no_args_is_help=True)
admin.add_typer(stores_app, name="stores")

WriteKeyOption = Annotated[
    str | None,
    typer.Option("--write-key", help="use this key instead of a random one (demos; 16+ characters)"),
]
RateLimitOption = Annotated[
    float | None,
    typer.Option("--rate-limit", metavar="EVENTS_PER_S", help="events per second (default: the service's)"),
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
        create_app(settings, server=True),
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,  # keep our JSON logging
        # Each request already logs one structured line (events_ingested, request_refused...);
        # uvicorn's text line on top cost as much again and carried the client's address.
        access_log=False,
        timeout_keep_alive=settings.keep_alive_s,
        proxy_headers=True,
        ws="none",  # no websockets here; skips loading them
    )


@stores_app.command("create")
def create(
    store_id: str,
    name: Annotated[str | None, typer.Option(help="display name (default: the id)")] = None,
    write_key: WriteKeyOption = None,
    shopify_secret: Annotated[
        str | None,
        typer.Option(help="the secret Shopify signs webhooks with (or use set-shopify-secret, from stdin)"),
    ] = None,
    rate_limit: RateLimitOption = None,
) -> None:
    """Create a store and print its first write key (shown only now)."""
    issued = _run(
        use_cases.create_store(
            _stores(),
            store_id,
            name=name,
            chosen_key=write_key,
            now=_now(),
            shopify_secret=shopify_secret,
            rate_limit_per_s=rate_limit,
        )
    )
    _print_issued(issued, "store already exists with this key" if issued.existed else "store created")


@stores_app.command("add-key")
def add_key(store_id: str, write_key: WriteKeyOption = None) -> None:
    """Add another write key to a store (rotation: add, deploy, then revoke the old one)."""
    _print_issued(_run(use_cases.add_key(_stores(), store_id, chosen_key=write_key, now=_now())), "key added")


@stores_app.command("rotate")
def rotate(
    store_id: str,
    revoke: Annotated[
        str | None, typer.Option("--revoke", metavar="KEY_ID", help="revoke this key of the store afterwards")
    ] = None,
    write_key: WriteKeyOption = None,
) -> None:
    """Add a new write key and print it; with --revoke, then revoke the old one."""
    issued, revoked = _run(
        use_cases.rotate_key(_stores(), store_id, chosen_key=write_key, revoke=revoke, now=_now())
    )
    _print_issued(issued, "key added")
    if revoked is not None:
        typer.echo(f"revoked {revoked.id}", err=True)


@stores_app.command("set-shopify-secret")
def set_shopify_secret(
    store_id: str,
    secret: Annotated[
        str | None, typer.Option("--secret", help="the secret; if left out, read from stdin (safer)")
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="remove it: Shopify webhooks get 401")] = False,
) -> None:
    """Set the secret Shopify signs this store's webhooks with (X-Shopify-Hmac-SHA256)."""
    if clear:
        _run(use_cases.set_shopify_secret(_stores(), store_id, None))
        typer.echo(f"shopify secret removed from store {store_id}")
        return
    if secret is None:
        secret = typer.prompt("Shopify secret", hide_input=True) if sys.stdin.isatty() else sys.stdin.read()
    _run(use_cases.set_shopify_secret(_stores(), store_id, secret))
    typer.echo(f"shopify secret set for store {store_id}")


@stores_app.command("set-rate-limit")
def set_rate_limit(
    store_id: str,
    events_per_s: Annotated[float | None, typer.Argument(metavar="EVENTS_PER_S")] = None,
    default: Annotated[bool, typer.Option("--default", help="use the service's default again")] = False,
) -> None:
    """Set how many events per second the store may send (429 with Retry-After beyond)."""
    if (events_per_s is None) == (not default):
        typer.echo("error: give EVENTS_PER_S or --default (invalid_rate_limit)", err=True)
        raise typer.Exit(1)
    store = _run(use_cases.set_rate_limit(_stores(), store_id, None if default else events_per_s))
    typer.echo(f"rate limit of store {store_id}: {_rate(store)}")


@stores_app.command("show")
def show(store_id: str) -> None:
    """A store's settings: name, created, rate limit, whether a Shopify secret is set, keys."""
    store = _run(use_cases.store_of_id(_stores(), store_id))
    found = _run(use_cases.keys_of(_stores(), store_id))
    active = sum(1 for k in found if k.active)
    typer.echo(f"store:          {store.id}")
    typer.echo(f"name:           {store.name}")
    typer.echo(f"created:        {store.created_at.isoformat(timespec='seconds')}")
    typer.echo(f"rate limit:     {_rate(store)}")
    typer.echo(f"shopify secret: {'set' if store.shopify_secret else 'not set'}")
    typer.echo(f"write keys:     {active} active, {len(found) - active} revoked")


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


def _rate(store: Store) -> str:
    return f"{store.rate_limit_per_s:g} events/s" if store.rate_limit_per_s else "the service's default"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def main() -> None:
    app()


def admin_main() -> None:
    admin()
