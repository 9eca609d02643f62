"""`boomerang-messenger broadcast`: read the campaign file, start the broadcast in the store.

Writes one delayed step per customer in the audience to the messenger's ledger (see
`service_layer.broadcasts`); the running messenger's scheduler sends them. The database is
migrated first, as the service does on start.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from boomerang.messenger.adapters.segments import SqlCampaigns, SqlSegmentMembers
from boomerang.messenger.adapters.store import SqlSendLedger
from boomerang.messenger.domain.broadcasts import Broadcast, InvalidBroadcast
from boomerang.messenger.domain.content import Campaign
from boomerang.messenger.flows import FlowFiles
from boomerang.messenger.migrations import upgrade
from boomerang.messenger.service_layer.broadcasts import BroadcastStarted, start_broadcast
from boomerang.messenger.settings import MessengerSettings
from boomerang.shared.db import make_engine
from boomerang.shared.errors import BoomerangError
from boomerang.shared.rules import describe_error, yaml_mapping


def read_campaign(path: Path) -> Campaign:
    try:
        return Campaign.model_validate(yaml_mapping(path.read_text(encoding="utf-8")))
    except ValueError as exc:
        if not isinstance(exc, ValidationError):
            raise InvalidBroadcast(f"{path.name}: {exc}", field="content") from None
        field, message = describe_error(exc.errors()[0])
        # one field at a time: the operator fixes the file and runs the command again
        raise InvalidBroadcast(f"{path.name}: {message}", field=f"content.{field}") from None


def moment(text: str) -> datetime:
    """`--at`: an ISO 8601 time with its offset; a time without one would be read in whatever
    zone the operator's shell is in."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidBroadcast(f"not an ISO 8601 time: {text!r}", field="at") from None
    if at.tzinfo is None:
        raise InvalidBroadcast("give the time with its offset, e.g. 2026-12-01T10:00:00+01:00", field="at")
    return at


def start(
    settings: MessengerSettings,
    store_id: str,
    campaign_id: str,
    content: Path,
    flow: str,
    segments_any: tuple[str, ...] | None,
    segments_none: tuple[str, ...] | None,
    send_at: datetime,
    now: datetime,
) -> BroadcastStarted:
    broadcast = Broadcast(store_id, campaign_id, flow, read_campaign(content), send_at, segments_any, segments_none)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        return start_broadcast(
            broadcast,
            FlowFiles(settings.flows_dir).for_store(store_id),
            SqlSegmentMembers(engine),
            SqlCampaigns(engine),
            SqlSendLedger(engine),
            now,
        )
    finally:
        engine.dispose()


def describe(exc: Exception) -> str:
    if isinstance(exc, BoomerangError) and exc.field:
        return f"{exc.field}: {exc.message} ({exc.code})"
    return str(exc)
