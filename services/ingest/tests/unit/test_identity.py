"""The pure identity rules: which links are new, where events go, and the ids a retry reproduces."""

from __future__ import annotations

from datetime import datetime, timezone

from boomerang.ingest.domain.identity import (
    Link,
    announced,
    announcement,
    new_links,
    republished,
    routed,
)
from boomerang.shared.events import Envelope, IdentityLinked, PageViewed

T0 = datetime(2025, 3, 1, 12, tzinfo=timezone.utc)


def page(customer_id: str, envelope_id: str = "e1") -> Envelope:
    return Envelope.wrap(
        PageViewed(name="Home"),
        store_id="s1",
        customer_id=customer_id,
        source="ingest",
        time=T0,
        id=envelope_id,
    )


def test_a_link_is_new_only_for_an_id_not_linked_before():
    known = {"anon:a1": "u1"}
    candidates = [Link("anon:a1", "u2", "identify", T0), Link("anon:a2", "u2", "identify", T0)]
    assert new_links(candidates, known) == [Link("anon:a2", "u2", "identify", T0)]


def test_within_one_request_the_first_link_of_an_id_wins():
    candidates = [Link("anon:a1", "u1", "identify", T0), Link("anon:a1", "u2", "identify", T0)]
    assert [link.customer_id for link in new_links(candidates, {})] == ["u1"]


def test_only_anonymous_events_are_routed_to_the_linked_customer():
    links = {"anon:a1": "u1", "p": "u9"}
    assert routed(page("anon:a1"), links).customer_id == "u1"
    assert routed(page("anon:a2"), links).customer_id == "anon:a2"
    # A plain id linked by alias stays itself: only anonymous-only events are re-keyed.
    assert routed(page("p"), links).customer_id == "p"
    assert routed(page("anon:a1"), links).id == "e1"


def test_an_announcement_is_keyed_by_the_customer_with_an_id_a_retry_reproduces():
    link = Link("anon:a1", "u1", "identify", T0)
    first, again = announcement(link, "s1"), announcement(link, "s1")
    assert (first.key, first.source, first.time) == ("s1:u1", "ingest.identity", T0)
    assert first.event() == IdentityLinked(previous_id="anon:a1", via="identify")
    assert first.id == again.id
    assert first.id != announcement(Link("anon:a1", "u2", "identify", T0), "s1").id


def test_an_alias_call_is_its_own_announcement():
    assert announced(Link("anon:a1", "u1", "identify", T0))
    assert not announced(Link("anon:a1", "u1", "alias", T0))


def test_a_republished_event_keeps_what_happened_under_a_derived_id():
    original = page("anon:a1", "m-7")
    again = republished(original, "u1")
    assert (again.customer_id, again.source, again.time, again.data) == (
        "u1",
        "ingest.identity",
        T0,
        original.data,
    )
    assert again.id == republished(original, "u1").id != original.id
    assert again.id != republished(original, "u2").id
