from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from boomerang.feedback.adapters.repository import SqlProviderEventStore
from boomerang.feedback.domain.model import ProviderEvent
from boomerang.feedback.domain.sms import Recipient
from boomerang.feedback.migrations import upgrade
from boomerang.shared.db import make_engine

pytestmark = pytest.mark.integration
NOW = datetime(2025, 10, 9, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str):
    upgrade(database_url)
    engine = make_engine(database_url)
    yield SqlProviderEventStore(engine)
    engine.dispose()


def event(event_id: str, provider: str = "sendgrid", at: datetime = NOW) -> ProviderEvent:
    raw = {"sg_event_id": event_id, "event": "open", "timestamp": 1_760_000_000, "note": "é ✓"}
    return ProviderEvent(provider, event_id, "open", raw, at)


def test_each_provider_event_is_stored_once(store):
    first = store.add_new([event("a"), event("b"), event("a")])
    assert [s.event.provider_event_id for s in first] == ["a", "b"]
    again = store.add_new([event("b"), event("c")])
    assert [s.event.provider_event_id for s in again] == ["c"]
    assert store.count() == 3


def test_the_same_id_from_another_provider_is_another_event(store):
    store.add_new([event("x", "sendgrid")])
    assert len(store.add_new([event("x", "twilio")])) == 1


def test_raw_json_and_times_come_back_as_stored(store):
    store.add_new([event("a")])
    found = store.find("sendgrid", "a")
    assert found.event == event("a")
    assert found.event.received_at.tzinfo is not None
    assert found.published_at is None


def test_unpublished_until_marked_oldest_first(store):
    ids = [s.id for s in store.add_new([event("a"), event("b", at=NOW + timedelta(seconds=5)), event("c")])]
    assert [s.id for s in store.unpublished(10)] == ids
    assert [s.id for s in store.unpublished(2)] == ids[:2]
    assert [s.id for s in store.unpublished(10, among=[ids[2]])] == [ids[2]]
    assert store.backlog().unpublished == 3
    assert store.backlog().oldest_received_at == NOW

    store.mark_published(ids[:2], NOW + timedelta(seconds=1))
    assert [s.id for s in store.unpublished(10)] == [ids[2]]
    assert store.find("sendgrid", "a").published_at == NOW + timedelta(seconds=1)
    assert store.backlog().unpublished == 1

    store.mark_published(ids, NOW + timedelta(seconds=9))  # already published keep their first time
    assert store.find("sendgrid", "a").published_at == NOW + timedelta(seconds=1)
    assert store.backlog().unpublished == 0
    assert store.backlog().oldest_received_at is None


def test_the_latest_recipient_of_a_number_pair_is_remembered(store):
    first, later = Recipient("s1", "c1", "m-1"), Recipient("s1", "c2", "m-2")
    assert store.recipient("pair") is None

    store.remember_recipient("pair", first, NOW)
    store.remember_recipient("other", Recipient("s2", "c9", None), NOW)
    assert store.recipient("pair") == first
    store.remember_recipient("pair", later, NOW + timedelta(seconds=5))
    assert store.recipient("pair") == later
    store.remember_recipient("pair", first, NOW + timedelta(seconds=1))  # a late, older callback
    assert store.recipient("pair") == later
    assert store.recipient("other") == Recipient("s2", "c9", None)
