"""Ingesting Segment calls: map, drop duplicates, publish, and only then remember the ids."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from boomerang.ingest.domain.batch import batch_items
from boomerang.ingest.domain.identity import Link
from boomerang.ingest.domain.limits import check_event_size
from boomerang.ingest.domain.mapping import Mapped, Rules, to_call
from boomerang.ingest.domain.rejections import Rejected, Rejection, join_path
from boomerang.ingest.service_layer.claims import Claims
from boomerang.ingest.service_layer.identity import Stitched, Stitching
from boomerang.ingest.service_layer.ports import Publisher, SeenMessages
from boomerang.ingest.service_layer.rate_limit import RateLimiter
from boomerang.shared.errors import BadRequest, ServiceUnavailable
from boomerang.shared.events import Envelope
from boomerang.shared.kafka import PublishFailed
from boomerang.shared.logs import get_logger

log = get_logger(__name__)


class KafkaUnavailable(ServiceUnavailable):
    code = "kafka_unavailable"

    def __init__(self, retry_after: int) -> None:
        super().__init__("events could not be stored durably; retry later", retry_after=retry_after)


class BatchRejected(BadRequest):
    """Every call of a batch was invalid: 400, with the same details a partial success carries."""

    def __init__(self, rejected: list[Rejection]) -> None:
        first = rejected[0]
        super().__init__(f"all {len(rejected)} events were rejected", field=first.field, code=first.code)
        self.rejected = rejected

    def body(self) -> dict[str, Any]:
        return {
            **super().body(),
            "success": False,
            "accepted": 0,
            "rejected": [r.as_dict() for r in self.rejected],
        }


@dataclass
class Outcome:
    accepted: int = 0
    published: list[Envelope] = field(default_factory=list)
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    remembered: bool = True
    duplicated: list[Envelope] = field(default_factory=list)  # accepted, not published again
    ids: list[tuple[int, str]] = field(default_factory=list)  # a batch's accepted (index, event id)


class Ingest:
    def __init__(
        self,
        *,
        seen: SeenMessages,
        publisher: Publisher,
        rules: Rules,
        dedup_window: timedelta,
        clock: Callable[[], datetime],
        new_id: Callable[[], str],
        retry_after_s: int = 5,
        claims: Claims | None = None,
        identity: Stitching | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._seen = seen
        self._publisher = publisher
        self._rules = rules
        self._window = dedup_window
        self._clock = clock
        self._new_id = new_id
        self._retry_after_s = retry_after_s
        self._claims = claims or Claims()
        self._identity = identity
        self._limiter = limiter

    async def one(self, raw: Any, *, call: str, store_id: str) -> Outcome:
        """A single call (`/v1/identify` ...): a rejection raises, nothing is published."""
        now = self._clock()
        mapped = self._map(raw, call, store_id, now)
        return await self.deliver(store_id, [mapped.envelope], links=mapped.links, now=now)

    async def batch(
        self,
        body: dict[str, Any],
        *,
        store_id: str,
        max_events: int,
        max_event_bytes: int | None = None,
        body_bytes: int = 0,
    ) -> Outcome:
        """Valid calls are published, invalid ones reported; if none is valid, BatchRejected.

        A call over `max_event_bytes` is refused on its own; only a body larger than that limit
        can hold one, so smaller batches are not measured call by call."""
        now = self._clock()
        envelopes: list[Envelope] = []
        links: list[Link] = []
        rejected: list[Rejection] = []
        ids: list[tuple[int, str]] = []
        measure = max_event_bytes is not None and body_bytes > max_event_bytes
        for index, item in enumerate(batch_items(body, max_events)):
            try:
                if measure:
                    check_event_size(body["batch"][index], max_event_bytes)
                mapped = self._map(item, None, store_id, now)
            except Rejected as exc:
                at = join_path(f"batch[{index}]", exc.field)
                rejected.append(Rejection(index, exc.code, exc.message, at))
            else:
                envelopes.append(mapped.envelope)
                links.extend(mapped.links)
                ids.append((index, mapped.envelope.id))
        if not envelopes:
            raise BatchRejected(rejected)
        outcome = await self.deliver(store_id, envelopes, rejected=rejected, links=links, now=now)
        outcome.ids = ids
        return outcome

    def _map(self, raw: Any, call: str | None, store_id: str, now: datetime) -> Mapped:
        return to_call(
            raw, call=call, store_id=store_id, received_at=now, new_id=self._new_id(), rules=self._rules
        )

    async def deliver(
        self,
        store_id: str,
        envelopes: list[Envelope],
        *,
        rejected: list[Rejection] | None = None,
        delivery_ids: tuple[str, ...] = (),
        now: datetime | None = None,
        links: Sequence[Link] = (),
    ) -> Outcome:
        """Publish what was not published before, then remember it; every entrypoint ends here.

        `delivery_ids` name the request itself (a Shopify webhook id, its event id): if any was
        seen, the whole request is a duplicate even when its events would get new ids.
        `links` are the identity links the calls state (identify, alias): see `Stitching`.
        """
        if self._limiter is not None:  # every call of the request counts, valid or not
            await self._limiter.admit(store_id, len(envelopes) + len(rejected or []))
        now = now or self._clock()
        stitched = await self._stitch(store_id, envelopes, links)
        unique = _first_of_each_id([*stitched.derived, *stitched.calls])
        ids = [e.id for e in unique]
        outcome = Outcome(accepted=len(envelopes), rejected=rejected or [])
        async with self._claims.hold(store_id, [*ids, *delivery_ids]):
            seen = await self._seen.seen_since(store_id, [*ids, *delivery_ids], now - self._window)
            fresh = [] if seen.intersection(delivery_ids) else [e for e in unique if e.id not in seen]
            if fresh:
                try:
                    await self._publisher.publish(fresh)
                except PublishFailed as exc:
                    log.warning("publish_failed", store_id=store_id, events=len(fresh), error=str(exc)[:300])
                    raise KafkaUnavailable(self._retry_after_s) from exc
            outcome.remembered = await self._record(store_id, fresh, delivery_ids, stitched.new_links, now)
        outcome.published = fresh
        published = {id(e) for e in fresh}
        # The calls as routed, in the order of `envelopes`; derived envelopes are not calls.
        outcome.duplicated = [e for e, call in zip(envelopes, stitched.calls) if id(call) not in published]
        outcome.duplicates = len(outcome.duplicated)
        return outcome

    async def _stitch(self, store_id: str, envelopes: list[Envelope], links: Sequence[Link]) -> Stitched:
        if self._identity is None:
            return Stitched(calls=list(envelopes))
        return await self._identity.stitch(store_id, envelopes, links)

    async def _record(
        self,
        store_id: str,
        fresh: list[Envelope],
        delivery_ids: tuple[str, ...],
        new_links: list[Link],
        now: datetime,
    ) -> bool:
        """After Kafka acknowledged: the ids into the de-dup window, the links and anonymous events
        to identity; both at once, so the store can write them in one transaction. Neither
        raises. False if the ids could not be remembered."""
        ids = [*(e.id for e in fresh), *delivery_ids]
        if self._identity is None or not self._identity.has_records(new_links, fresh):
            return await self._remember(store_id, ids, now) if ids else True
        settled = self._identity.settle(store_id, new_links, fresh, now)
        if not ids:
            await settled
            return True
        remembered, _ = await asyncio.gather(self._remember(store_id, ids, now), settled)
        return remembered

    async def _remember(self, store_id: str, ids: list[str], now: datetime) -> bool:
        # Kafka has the events now, so the answer is success whatever happens here; a lost
        # record only means a retried request could be published again (consumers de-dup).
        try:
            await self._seen.remember(store_id, ids, now)
            return True
        except Exception as exc:  # noqa: BLE001 - any store failure; reported, not fatal
            log.error("dedup_record_failed", store_id=store_id, events=len(ids), error=repr(exc)[:300])
            return False


def _first_of_each_id(envelopes: list[Envelope]) -> list[Envelope]:
    """Drop repeats within one request, keeping order (a customer's events stay in sequence)."""
    taken: set[str] = set()
    unique = []
    for envelope in envelopes:
        if envelope.id not in taken:
            taken.add(envelope.id)
            unique.append(envelope)
    return unique
