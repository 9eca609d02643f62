"""The messenger's store on SQLite and PostgreSQL: contact cards and the send ledger."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from boomerang.messenger.adapters.store import SqlContacts, SqlSendLedger
from boomerang.messenger.domain.contacts import Contact
from boomerang.messenger.domain.flows import Channel
from boomerang.messenger.domain.messages import LedgerEntry, Outbound, State, Trigger
from boomerang.messenger.migrations import upgrade
from boomerang.shared.db import make_engine

pytestmark = pytest.mark.integration
NOW = datetime(2025, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str):
    upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def ledger(engine) -> SqlSendLedger:
    return SqlSendLedger(engine)


def pending(order_id: str = "o-1", step: str = "email") -> LedgerEntry:
    entry = LedgerEntry.open(
        Trigger("s1", "anon:c/1", "receipt", order_id, "evt-1"), step, Channel.EMAIL, NOW
    )
    message = Outbound(
        entry.message_id, "s1", "anon:c/1", "receipt", step, Channel.EMAIL, "ada@example.com", "hi"
    )
    return entry.pending(message, "sendgrid")


def test_contacts_are_saved_and_updated(engine) -> None:
    contacts = SqlContacts(engine)
    assert contacts.get("s1", "c1") is None

    contacts.save(Contact("s1", "c1", email="ada@example.com", sms_consent=False))
    contacts.save(Contact("s1", "c1", email="ada@example.com", phone="+14155550100", sms_consent=True))

    assert contacts.get("s1", "c1") == Contact(
        "s1", "c1", email="ada@example.com", phone="+14155550100", sms_consent=True
    )
    assert contacts.get("s2", "c1") is None


def test_a_claimed_key_is_found_by_the_next_claim(ledger: SqlSendLedger) -> None:
    first = ledger.claim(pending())
    second = ledger.claim(pending())

    assert first.won and not second.won
    assert second.entry == first.entry  # round-trips, time zone included
    assert second.entry.created_at == NOW and second.entry.state is State.PENDING


def test_of_two_concurrent_claims_for_one_key_exactly_one_wins(ledger: SqlSendLedger) -> None:
    for round_ in range(5):
        assert sorted(claim_concurrently(ledger, pending(order_id=f"race-{round_}"))) == [False, True]


def claim_concurrently(ledger: SqlSendLedger, entry: LedgerEntry) -> list[bool]:
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def claim() -> None:
        barrier.wait()
        results.append(ledger.claim(entry).won)

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_only_one_resumer_takes_over_a_pending_entry(ledger: SqlSendLedger) -> None:
    entry = ledger.claim(pending()).entry

    assert ledger.take_over(entry.key, entry.attempts, NOW)
    assert not ledger.take_over(entry.key, entry.attempts, NOW)
    assert ledger.get(entry.key).attempts == 2


def test_settling_records_the_outcome_once(ledger: SqlSendLedger) -> None:
    entry = ledger.claim(pending()).entry
    later = NOW + timedelta(seconds=3)

    sent = ledger.settle(entry.key, State.SENT, later, provider_message_id="x-1")
    again = ledger.settle(entry.key, State.FAILED, later, reason="too late")

    assert sent.state is State.SENT and sent.provider_message_id == "x-1" and sent.sent_at == later
    assert again == sent
    assert not ledger.take_over(entry.key, sent.attempts, later)  # settled entries are not resumed


def test_duplicates_publication_and_stats(ledger: SqlSendLedger) -> None:
    a = ledger.claim(pending("o-1")).entry
    b = ledger.claim(pending("o-2")).entry
    ledger.claim(pending("o-3").suppressed("no_address"))
    ledger.settle(a.key, State.SENT, NOW)
    ledger.settle(b.key, State.SENT, NOW)
    ledger.count_duplicate(a.key)
    ledger.count_duplicate(a.key)
    ledger.mark_published([a.key], NOW)

    assert ledger.get(a.key).duplicate_hits == 2
    assert ledger.get(a.key).published_at == NOW
    assert ledger.get(b.key).published_at is None
    assert [(r.flow, r.channel, r.state, r.messages, r.duplicates_avoided) for r in ledger.stats()] == [
        ("receipt", "email", "sent", 2, 2),
        ("receipt", "email", "suppressed", 1, 0),
    ]
