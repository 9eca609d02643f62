"""`boomerang-messenger serve`: the consumer and its HTTP endpoints in one process."""

from __future__ import annotations

import typer
import uvicorn

from boomerang.messenger.entrypoints.app import create_app
from boomerang.messenger.settings import MessengerSettings
from boomerang.shared.cli import database_commands
from boomerang.shared.logs import configure_logging

cli = typer.Typer(no_args_is_help=True, add_completion=False)


@cli.callback()
def _root() -> None:
    """Boomerang messenger."""


@cli.command()
def serve(
    host: str | None = typer.Option(None, help="default: BOOMERANG_MESSENGER_HOST"),
    port: int | None = typer.Option(None, help="default: BOOMERANG_MESSENGER_PORT (8003)"),
) -> None:
    """Consume commerce events, send what flows ask for, serve /healthz /readyz /metrics /v1/stats."""
    settings = MessengerSettings()
    configure_logging("messenger", settings.common.log_level, settings.common.log_json)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,  # keep the JSON logging configured above
        access_log=False,
    )


cli.add_typer(database_commands("messenger", MessengerSettings), name="db")


def main() -> None:
    cli()
