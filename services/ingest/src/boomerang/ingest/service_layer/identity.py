"""Identity stitching around `Ingest.deliver`: route, announce, re-publish, then record.

Before publishing: anonymous events whose visitor is linked go to the customer; a call that
links an id for the first time adds an IdentityLinked and the id's kept events, re-keyed. After
Kafka acknowledged: the new links are recorded and the anonymous events kept. A request that
fails in between records nothing, and its retry derives the same envelopes with the same ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from boomerang.ingest.domain.identity import (
    Link,
    announced,
    announcement,
    is_anonymous,
    new_links,
    republished,
    routed,
)
from boomerang.ingest.service_layer.ports import IdentityRepository
from boomerang.shared.events import Envelope
from boomerang.shared.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Stitched:
    derived: list[Envelope] = field(default_factory=list)  # announcements and re-published history
    calls: list[Envelope] = field(default_factory=list)  # the request's own, routed
    new_links: list[Link] = field(default_factory=list)


class Stitching:
    def __init__(self, identities: IdentityRepository, *, max_republished: int = 1000) -> None:
        self._identities = identities
        self._max_republished = max_republished

    async def stitch(
        self, store_id: str, envelopes: Sequence[Envelope], candidates: Sequence[Link]
    ) -> Stitched:
        """One lookup for the whole request (a batch never queries per event), a second one
        only when a link is new."""
        wanted = {e.customer_id for e in envelopes if is_anonymous(e.customer_id)}
        wanted.update(link.previous_id for link in candidates)
        known = await self._identities.linked(store_id, wanted) if wanted else {}
        fresh = new_links(candidates, known)
        links = {**known, **{link.previous_id: link.customer_id for link in fresh}}
        calls = [routed(envelope, links) for envelope in envelopes]
        return Stitched(await self._derived(store_id, fresh), calls, fresh)

    async def _derived(self, store_id: str, fresh: list[Link]) -> list[Envelope]:
        if not fresh:
            return []
        kept = await self._identities.kept(
            store_id, [link.previous_id for link in fresh], self._max_republished
        )
        derived: list[Envelope] = []
        for link in fresh:
            if announced(link):
                derived.append(announcement(link, store_id))
            derived += [republished(e, link.customer_id) for e in kept if e.customer_id == link.previous_id]
        return derived

    @staticmethod
    def has_records(new: Sequence[Link], published: Iterable[Envelope]) -> bool:
        """Whether `settle` would write anything (new links, anonymous events)."""
        return bool(new) or any(is_anonymous(e.customer_id) for e in published)

    async def settle(
        self, store_id: str, new: Sequence[Link], published: Iterable[Envelope], at: datetime
    ) -> bool:
        """After Kafka acknowledged: record the new links, keep what anonymous visitors did.

        Like the de-dup record, a failure here does not undo the success: a lost link is found
        again by the next call that states it (its envelopes have the same ids), and a lost kept
        event only means it will not be published again under the customer.
        """
        anonymous = [e for e in published if is_anonymous(e.customer_id)]
        try:
            if new:
                await self._identities.link(store_id, new, at)
            if anonymous:
                await self._identities.keep(store_id, anonymous, at)
            return True
        except Exception as exc:  # noqa: BLE001 - any store failure; reported, not fatal
            log.error(
                "identity_record_failed",
                store_id=store_id,
                links=len(new),
                kept=len(anonymous),
                error=repr(exc)[:300],
            )
            return False


class CachedIdentities:
    """An IdentityRepository that remembers the links it read, for `ttl` at most.

    A link never changes once recorded (the first wins), so a cached one stays right until the
    customer is erased: `forget_customer` here drops it at once; other replicas notice after
    `ttl`. Missing links are not cached, because another replica may record one any moment.
    """

    def __init__(
        self,
        inner: IdentityRepository,
        *,
        clock: Callable[[], datetime],
        ttl: timedelta = timedelta(minutes=5),
        max_entries: int = 100_000,
    ) -> None:
        self._inner = inner
        self._clock = clock
        self._ttl = ttl
        self._max_entries = max_entries
        self._links: dict[tuple[str, str], tuple[str, datetime]] = {}

    def __len__(self) -> int:
        return len(self._links)

    async def linked(self, store_id: str, previous_ids: Iterable[str]) -> dict[str, str]:
        now = self._clock()
        found: dict[str, str] = {}
        missing = []
        for previous_id in set(previous_ids):
            hit = self._links.get((store_id, previous_id))
            if hit is not None and hit[1] > now:
                found[previous_id] = hit[0]
            else:
                missing.append(previous_id)
        if missing:
            read = await self._inner.linked(store_id, missing)
            for previous_id, customer_id in read.items():
                self._remember(store_id, previous_id, customer_id, now)
            found.update(read)
        return found

    def _remember(self, store_id: str, previous_id: str, customer_id: str, now: datetime) -> None:
        self._links.pop((store_id, previous_id), None)
        while len(self._links) >= self._max_entries:
            del self._links[next(iter(self._links))]  # the oldest entry
        self._links[(store_id, previous_id)] = (customer_id, now + self._ttl)

    async def link(self, store_id: str, links: Iterable[Link], at: datetime) -> None:
        # Not cached here: if another replica linked the id first, the stored link is not ours.
        await self._inner.link(store_id, links, at)

    async def keep(self, store_id: str, envelopes: Iterable[Envelope], at: datetime) -> None:
        await self._inner.keep(store_id, envelopes, at)

    async def kept(self, store_id: str, customer_ids: Iterable[str], limit: int) -> list[Envelope]:
        return await self._inner.kept(store_id, customer_ids, limit)

    async def forget_kept_before(self, before: datetime) -> int:
        return await self._inner.forget_kept_before(before)

    async def forget_customer(self, store_id: str, customer_id: str) -> int:
        forgotten = await self._inner.forget_customer(store_id, customer_id)
        for key, (linked_to, _) in list(self._links.items()):
            if key[0] == store_id and customer_id in (key[1], linked_to):
                del self._links[key]
        return forgotten
