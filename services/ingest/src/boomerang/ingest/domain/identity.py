"""Identity stitching: which calls link an earlier id to a customer, and what that changes.

Every topic is keyed `store:customer`, and an anonymous visitor is the customer
`anon:<anonymousId>`. Once a call links that id to a `userId`, the visitor's later anonymous
events are published under the userId, and their earlier ones are published again under it, so
every consumer sees one history per customer without merging state across partitions.

Rules (documented in the README):
- `identify` with both `userId` and `anonymousId` links `anon:<anonymousId>` to the userId.
- `alias` links its `previousId` to the userId; the previousId may name an anonymous visitor or
  an older userId, so both `anon:<previousId>` and `<previousId>` are linked.
- The first link of an id wins: a later call linking it to someone else moves nothing, so no
  history is ever counted for two customers.
- One hop: a link points at the customer named in the linking call, never further.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from boomerang.shared.events import Envelope, IdentityLinked

ANONYMOUS = "anon:"
SOURCE = "ingest.identity"
_IDS = uuid.uuid5(uuid.NAMESPACE_URL, "https://boomerang.dev/ingest/identity")


@dataclass(frozen=True)
class Link:
    """From now on `previous_id` (a customer id: `anon:<id>` or a userId) is `customer_id`."""

    previous_id: str
    customer_id: str
    via: str  # identify or alias
    time: datetime  # when the linking call happened


def anonymous(anonymous_id: str) -> str:
    return f"{ANONYMOUS}{anonymous_id}"


def is_anonymous(customer_id: str) -> bool:
    return customer_id.startswith(ANONYMOUS)


def links_of(
    call: str,
    *,
    user_id: str | None,
    anonymous_id: str | None,
    previous_id: str | None,
    time: datetime,
) -> tuple[Link, ...]:
    """The links one Segment call states (none for most calls)."""
    if not user_id:
        return ()
    if call == "identify" and anonymous_id:
        candidates = [anonymous(anonymous_id)]
    elif call == "alias" and previous_id and previous_id != user_id:
        candidates = [anonymous(previous_id), previous_id]
    else:
        return ()
    return tuple(Link(p, user_id, call, time) for p in candidates if p != user_id)


def new_links(candidates: Iterable[Link], known: Mapping[str, str]) -> list[Link]:
    """The candidates that link an id not linked before; the first one of an id wins."""
    taken = set(known)
    fresh = []
    for link in candidates:
        if link.previous_id not in taken:
            taken.add(link.previous_id)
            fresh.append(link)
    return fresh


def routed(envelope: Envelope, links: Mapping[str, str]) -> Envelope:
    """An anonymous visitor's event goes to the customer they were linked to, if any."""
    customer = links.get(envelope.customer_id) if is_anonymous(envelope.customer_id) else None
    if customer is None:
        return envelope
    return envelope.model_copy(update={"customer_id": customer})


def announcement(link: Link, store_id: str) -> Envelope:
    """IdentityLinked for a new link, keyed by the customer, with an id a retry reproduces."""
    return Envelope.wrap(
        IdentityLinked(previous_id=link.previous_id, via=link.via),
        store_id=store_id,
        customer_id=link.customer_id,
        source=SOURCE,
        time=link.time,
        id=str(uuid.uuid5(_IDS, f"linked\n{link.previous_id}\n{link.customer_id}")),
    )


def announced(link: Link) -> bool:
    # An alias call is published itself as IdentityLinked: announcing its links again would
    # tell consumers the same thing twice.
    return link.via != "alias"


def republished(kept: Envelope, customer_id: str) -> Envelope:
    """An event published for an anonymous visitor, again under the customer they turned out to be.

    The id is derived from the original id and the customer, so publishing it twice (a retried
    request, a racing replica) gives consumers the same id to de-duplicate on.
    """
    return kept.model_copy(
        update={
            "id": str(uuid.uuid5(_IDS, f"{kept.id}\n{customer_id}")),
            "customer_id": customer_id,
            "source": SOURCE,
        }
    )
