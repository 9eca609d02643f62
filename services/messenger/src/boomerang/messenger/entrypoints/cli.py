"""`boomerang-messenger serve`: the consumer and its HTTP endpoints in one process.
`boomerang-messenger preview`: render any flow step for a customer without sending it.
`boomerang-messenger broadcast`: send an operator's campaign to a segment."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
import uvicorn

from boomerang.messenger.entrypoints import broadcasts, preview as previews
from boomerang.messenger.entrypoints.app import create_app
from boomerang.messenger.settings import MessengerSettings
from boomerang.shared.cli import database_commands
from boomerang.shared.errors import BoomerangError
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
        create_app(settings, server=True),
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,  # keep the JSON logging configured above
        access_log=False,
    )


@cli.command()
def preview(
    store: str = typer.Option(..., help="store id"),
    customer: str = typer.Option(..., help="customer id; their contact card is used when the store has it"),
    flow: str = typer.Option(..., help="flow name, e.g. win_back"),
    step: str | None = typer.Option(None, help="default: the flow's first step"),
    channel: str | None = typer.Option(None, help="email or sms; default: the step's first channel"),
    locale: str | None = typer.Option(None, help="write as if the customer's locale were this, e.g. de"),
    trigger_json: Path | None = typer.Option(
        None, exists=True, dir_okay=False, help="the trigger: an envelope, its event's data, or message inputs"
    ),
    html: Path | None = typer.Option(None, dir_okay=False, help="write the HTML part to this file"),
) -> None:
    """Render a flow step for a customer: subject, headers and text. Sends nothing, stores nothing."""
    request = previews.Request(store, customer, flow, step, channel, locale, trigger_json)
    try:
        result = previews.preview(MessengerSettings(), request, datetime.now(UTC))
    except (previews.PreviewError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(result.report())
    sent_html = result.sent_html()
    if html is not None and sent_html is not None:
        html.write_text(sent_html, encoding="utf-8")
        typer.echo(f"\nHTML written to {html}")


@cli.command()
def broadcast(
    store: str = typer.Option(..., help="store id"),
    campaign: str = typer.Option(..., help="campaign id, e.g. holiday-preview-2026; starting it again sends nothing new"),
    content: Path = typer.Option(
        ..., exists=True, dir_okay=False, help="YAML: subject, heading, paragraphs, cta_label, cta_url"
    ),
    segment: list[str] = typer.Option([], help="send to customers in this segment (repeat); default: the flow's audience"),
    exclude: list[str] = typer.Option([], help="leave out customers in this segment (repeat)"),
    flow: str = typer.Option("broadcast", help="a flow with trigger kind: broadcast"),
    at: str | None = typer.Option(None, help="when it may go out, ISO 8601 with offset (2026-12-01T10:00:00+01:00); default: now"),
) -> None:
    """Send a campaign to a segment through the flows' policy (consent, caps, quiet hours, holdout)."""
    now = datetime.now(UTC)
    try:
        started = broadcasts.start(
            MessengerSettings(), store, campaign, content, flow, tuple(segment) or None, tuple(exclude) or None,
            broadcasts.moment(at) if at else now, now,
        )  # fmt: skip
    except (BoomerangError, ValueError) as exc:
        typer.echo(f"error: {broadcasts.describe(exc)}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"campaign {started.campaign_id}: {started.audience} customers in the audience, "
        f"{started.scheduled} scheduled now, {started.already_scheduled} already scheduled; "
        f"due {started.send_at.isoformat()}, each within the flow's send window in the customer's time zone"
    )


cli.add_typer(database_commands("messenger", MessengerSettings), name="db")


def main() -> None:
    cli()
