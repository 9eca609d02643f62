"""Command-line pieces every service has: `<service> db upgrade`."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import typer

from boomerang.shared.logs import configure_logging


def database_commands(service: str, settings: Callable[[], Any], *, what: str = "database") -> typer.Typer:
    """`db upgrade` for a service whose migrations live in `boomerang.<service>.migrations`."""
    db = typer.Typer(no_args_is_help=True, help=f"The {service} service's {what}.")

    @db.command("upgrade")
    def upgrade() -> None:
        """Migrate to the newest schema (the service's DATABASE_URL); starting the service does it too."""
        loaded = settings()
        configure_logging(service, loaded.common.log_level, json=loaded.common.log_json)
        # Imported here: alembic is only loaded by the commands that need it.
        importlib.import_module(f"boomerang.{service}.migrations").upgrade(loaded.database_url)

    return db
