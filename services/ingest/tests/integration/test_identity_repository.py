"""SqlIdentityRepository on both backends: links, kept anonymous events, retention and erasure."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from boomerang.ingest.adapters.repositories import SqlIdentityRepository
from boomerang.ingest.domain.identity import Link
from boomerang.ingest.migrations import upgrade
from boomerang.shared.db import make_engine
from boomerang.shared.events import Envelope, PageViewed

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 1, 12, tzinfo=timezone.utc)


@pytest.fixture
def repo(database_url: str):
    upgrade(database_url)
    engine = make_engine(database_url)
    yield SqlIdentityRepository(engine)
    engine.dispose()


def visit(customer_id: str, envelope_id: str, minutes: int = 0, store_id: str = "s1") -> Envelope:
    return Envelope.wrap(
        PageViewed(name=f"page {envelope_id}"),
        store_id=store_id,
        customer_id=customer_id,
        source="ingest",
        time=T0 + timedelta(minutes=minutes),
        id=envelope_id,
    )


def link(previous_id: str, customer_id: str) -> Link:
    return Link(previous_id, customer_id, "identify", T0)


async def test_the_first_link_of_an_id_wins(repo):
    await repo.link("s1", [link("anon:a1", "u1"), link("anon:a2", "u1")], T0)
    await repo.link("s1", [link("anon:a1", "u2"), link("anon:a3", "u2")], T0)
    assert await repo.linked("s1", ["anon:a1", "anon:a2", "anon:a3", "anon:zz"]) == {
        "anon:a1": "u1",
        "anon:a2": "u1",
        "anon:a3": "u2",
    }
    assert await repo.linked("s2", ["anon:a1"]) == {}


async def test_many_ids_are_looked_up_in_chunks(repo):
    await repo.link("s1", [link(f"anon:{n}", f"u{n}") for n in range(1200)], T0)
    found = await repo.linked("s1", [f"anon:{n}" for n in range(0, 1300, 2)])
    assert len(found) == 600 and found["anon:1198"] == "u1198"


async def test_kept_events_come_back_intact_in_the_order_they_happened(repo):
    late, early = visit("anon:a1", "e-late", minutes=5), visit("anon:a1", "e-early", minutes=1)
    await repo.keep("s1", [late, early, visit("anon:a2", "e-other")], T0)
    await repo.keep("s1", [late], T0 + timedelta(hours=1))  # kept twice: still once
    assert await repo.kept("s1", ["anon:a1"], limit=10) == [early, late]
    assert await repo.kept("s2", ["anon:a1"], limit=10) == []


async def test_only_the_newest_kept_events_of_each_visitor_come_back(repo):
    for n in range(4):
        await repo.keep("s1", [visit("anon:a1", f"a{n}", minutes=n)], T0 + timedelta(minutes=n))
        await repo.keep("s1", [visit("anon:b1", f"b{n}", minutes=n)], T0 + timedelta(minutes=n))
    kept = await repo.kept("s1", ["anon:a1", "anon:b1"], limit=2)
    assert sorted(e.id for e in kept) == ["a2", "a3", "b2", "b3"]


async def test_linking_an_id_drops_the_events_kept_for_it(repo):
    await repo.keep("s1", [visit("anon:a1", "e1"), visit("anon:a2", "e2")], T0)
    await repo.link("s1", [link("anon:a1", "u1")], T0)
    assert await repo.kept("s1", ["anon:a1", "anon:a2"], limit=10) == [visit("anon:a2", "e2")]


async def test_kept_events_older_than_the_retention_are_purged(repo):
    await repo.keep("s1", [visit("anon:a1", "old")], T0)
    await repo.keep("s1", [visit("anon:a1", "new")], T0 + timedelta(days=31))
    assert await repo.forget_kept_before(T0 + timedelta(days=30)) == 1
    assert [e.id for e in await repo.kept("s1", ["anon:a1"], limit=10)] == ["new"]


async def test_forgetting_a_customer_drops_their_links_and_every_event_kept_for_them(repo):
    await repo.keep("s1", [visit("anon:a1", "e1"), visit("anon:a9", "e9")], T0)
    await repo.link("s1", [link("anon:a1", "u1")], T0)
    await repo.keep("s1", [visit("anon:a1", "e-raced")], T0)  # arrived after the link was recorded
    await repo.link("s1", [link("u1", "u2"), link("anon:a2", "u1")], T0)  # u1 is also an older id
    await repo.link("s2", [link("anon:a1", "u1")], T0)  # another store's u1 is someone else

    assert await repo.forget_customer("s1", "u1") == 4  # 3 links (to u1 and from u1), 1 kept event
    assert await repo.linked("s1", ["anon:a1", "anon:a2", "u1"]) == {}
    assert await repo.kept("s1", ["anon:a1"], limit=10) == []
    assert [e.id for e in await repo.kept("s1", ["anon:a9"], limit=10)] == ["e9"]
    assert await repo.linked("s2", ["anon:a1"]) == {"anon:a1": "u1"}


async def test_forgetting_an_anonymous_visitor(repo):
    await repo.keep("s1", [visit("anon:a1", "e1"), visit("anon:a1", "e2")], T0)
    assert await repo.forget_customer("s1", "anon:a1") == 2
    assert await repo.kept("s1", ["anon:a1"], limit=10) == []
