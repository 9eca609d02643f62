"""`boomerang-feedback serve`."""

from __future__ import annotations

import typer
import uvicorn

from boomerang.feedback.entrypoints.app import create_app
from boomerang.feedback.settings import FeedbackSettings
from boomerang.shared.cli import database_commands
from boomerang.shared.logs import configure_logging

cli = typer.Typer(no_args_is_help=True, add_completion=False)


@cli.callback()
def root() -> None:
    """Boomerang feedback: provider webhooks back into Kafka."""


@cli.command()
def serve(
    host: str | None = typer.Option(None, help="default BOOMERANG_FEEDBACK_HOST"),
    port: int | None = typer.Option(None, help="default BOOMERANG_FEEDBACK_PORT"),
) -> None:
    """Serve the webhooks, /healthz, /readyz and /metrics."""
    settings = FeedbackSettings()
    configure_logging("feedback", settings.common.log_level, settings.common.log_json)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        # Real client addresses when behind a proxy that sets X-Forwarded-*.
        proxy_headers=True,
        ws="none",
    )


cli.add_typer(database_commands("feedback", FeedbackSettings), name="db")


def main() -> None:
    cli()
