"""Receiving native events: check each one, then deliver the valid ones like every other entrypoint."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from boomerang.ingest.domain.mapping import Rules
from boomerang.ingest.domain.native import native_items, to_envelope
from boomerang.ingest.domain.rejections import Rejected, Rejection, join_path
from boomerang.ingest.service_layer.ingest import BatchRejected, Ingest, Outcome
from boomerang.shared.events import Envelope


@dataclass
class NativeOutcome:
    outcome: Outcome
    # (index in the request, envelope id) of every accepted event, so a shop learns assigned ids.
    ids: list[tuple[int, str]] = field(default_factory=list)


class NativeEvents:
    def __init__(
        self, *, ingest: Ingest, rules: Rules, clock: Callable[[], datetime], new_id: Callable[[], str]
    ) -> None:
        self._ingest = ingest
        self._rules = rules
        self._clock = clock
        self._new_id = new_id

    async def receive(self, body: dict[str, Any], *, store_id: str, max_events: int) -> NativeOutcome:
        """Valid events are published, invalid ones reported; if none is valid, BatchRejected."""
        now = self._clock()
        items, listed = native_items(body, max_events)
        envelopes: list[Envelope] = []
        ids: list[tuple[int, str]] = []
        rejected: list[Rejection] = []
        for index, item in enumerate(items):
            try:
                envelope = to_envelope(
                    item, store_id=store_id, received_at=now, new_id=self._new_id(), rules=self._rules
                )
            except Rejected as exc:
                at = join_path(f"events[{index}]", exc.field) if listed else exc.field
                rejected.append(Rejection(index, exc.code, exc.message, at))
                continue
            envelopes.append(envelope)
            ids.append((index, envelope.id))
        if not envelopes:
            raise BatchRejected(rejected)
        outcome = await self._ingest.deliver(store_id, envelopes, rejected=rejected, now=now)
        return NativeOutcome(outcome, ids)
