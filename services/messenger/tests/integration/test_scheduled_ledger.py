"""The scheduler's ledger operations on SQLite and PostgreSQL: claiming due entries, once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from boomerang.messenger.adapters.store import SqlSendLedger
from boomerang.messenger.domain.flows import Channel, Purpose
from boomerang.messenger.domain.messages import LedgerEntry, Outbound, State, Trigger
from boomerang.messenger.migrations import upgrade
from boomerang.shared.db import make_engine

pytestmark = pytest.mark.integration
NOW = datetime(2025, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)
LEASE = timedelta(minutes=5)


@pytest.fixture
def ledger(database_url: str):
    upgrade(database_url)
    engine = make_engine(database_url)
    yield SqlSendLedger(engine)
    engine.dispose()


def delayed(instance: str, due_at: datetime, customer: str = "c1") -> LedgerEntry:
    trigger = Trigger("s1", customer, "win_back", instance, f"evt-{instance}")
    entry = LedgerEntry.open(trigger, "last_chance", Channel.EMAIL, NOW, Purpose.MARKETING, 70)
    return entry.delayed(due_at, "flow_delay")


def claim_due(ledger: SqlSendLedger, now: datetime, limit: int = 10) -> list[LedgerEntry]:
    return ledger.claim_due(now, now - LEASE, limit)


def test_only_due_entries_are_claimed_earliest_first_in_batches(ledger: SqlSendLedger) -> None:
    for instance, hours in (("late", 3), ("early", 1), ("future", 48)):
        ledger.claim(delayed(instance, NOW + timedelta(hours=hours)))

    first = claim_due(ledger, NOW + timedelta(hours=4), limit=1)
    second = claim_due(ledger, NOW + timedelta(hours=4), limit=5)
    third = claim_due(ledger, NOW + timedelta(hours=4), limit=5)

    assert [e.trigger_id for e in first] == ["early"]
    assert [e.trigger_id for e in second] == ["late"] and third == []
    assert first[0].state is State.PENDING and first[0].attempts == 1
    assert first[0].due_at == NOW + timedelta(hours=1)  # kept: it marks the entry as scheduled
    assert ledger.get(delayed("future", NOW).key).state is State.DELAYED


def test_of_concurrent_claimers_each_due_entry_goes_to_exactly_one(ledger: SqlSendLedger) -> None:
    keys = [ledger.claim(delayed(f"race-{i}", NOW)).entry.key for i in range(20)]
    barrier = threading.Barrier(3)
    won: list[list[str]] = []

    def claimer() -> None:
        barrier.wait()
        won.append([e.key for e in claim_due(ledger, NOW + timedelta(seconds=1), limit=50)])

    threads = [threading.Thread(target=claimer) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    claimed = [key for batch in won for key in batch]
    assert sorted(claimed) == sorted(keys)  # every key once, none twice


def test_a_claim_left_pending_is_claimed_again_only_after_the_lease(ledger: SqlSendLedger) -> None:
    entry = ledger.claim(delayed("o-1", NOW)).entry
    (claimed,) = claim_due(ledger, NOW)
    ledger.record_message(entry.key, Channel.EMAIL, "ada@example.com", "d" * 64, "sendgrid", NOW)

    within = claim_due(ledger, NOW + LEASE - timedelta(seconds=1))
    (again,) = claim_due(ledger, NOW + LEASE + timedelta(seconds=1))

    assert within == []
    assert again.attempts == claimed.attempts + 1 == 2
    assert again.recipient == "ada@example.com" and again.provider == "sendgrid"


def test_a_claimed_entry_is_rescheduled_or_settled_and_a_delayed_one_cancelled(ledger: SqlSendLedger) -> None:
    ledger.claim(delayed("a", NOW))
    ledger.claim(delayed("b", NOW + timedelta(days=1)))
    (a,) = claim_due(ledger, NOW)

    moved = ledger.reschedule(a.key, Channel.SMS, NOW + timedelta(hours=9), "quiet_hours", NOW)
    b = delayed("b", NOW)
    cancelled = ledger.cancel(b.key, "exited", NOW)
    (again,) = claim_due(ledger, NOW + timedelta(hours=10))
    not_delayed = ledger.cancel(again.key, "exited", NOW)  # the scheduler has it: not cancelled

    assert (moved.state, moved.channel, moved.reason) == (State.DELAYED, Channel.SMS, "quiet_hours")
    assert moved.due_at == NOW + timedelta(hours=9)
    assert cancelled is not None and (cancelled.state, cancelled.reason) == (State.SUPPRESSED, "exited")
    assert not_delayed is None and ledger.get(again.key).state is State.PENDING
    assert [e.trigger_id for e in ledger.delayed_for("s1", "c1")] == []


def test_a_send_awaiting_its_lookup_keeps_its_message_until_claimed(ledger: SqlSendLedger) -> None:
    entry = ledger.claim(delayed("unsure", NOW)).entry
    (claimed,) = claim_due(ledger, NOW)
    message = Outbound(
        claimed.message_id, "s1", "c1", "win_back", "last_chance", Channel.EMAIL, "ada@example.com", "We miss you",
        "Come back", "<p>We miss you</p>", (("List-Unsubscribe", "<https://u.example/1>"),), "help@shop.example",
    )

    ledger.reschedule(entry.key, Channel.EMAIL, NOW + timedelta(minutes=10), "awaiting_lookup", NOW, message.to_json())
    (again,) = claim_due(ledger, NOW + timedelta(minutes=10))

    assert again.reason == "awaiting_lookup" and Outbound.from_json(again.unconfirmed_message) == message
