"""The messenger's store on SQLite and PostgreSQL: contact cards and the send ledger."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from boomerang.messenger.adapters.store import SqlContacts, SqlSendLedger, SqlSuppressions
from boomerang.messenger.domain.contacts import Contact
from boomerang.messenger.domain.flows import Channel, Purpose
from boomerang.messenger.domain.suppressions import Block, Change, SuppressionList
from boomerang.messenger.domain.messages import LedgerEntry, Outbound, State, Trigger

pytestmark = pytest.mark.integration
NOW = datetime(2025, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)


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
    ledger.claim(pending("o-4").suppressed("holdout"))
    ledger.claim(pending("o-5").suppressed("holdout"))
    failed = ledger.claim(pending("o-6")).entry
    ledger.settle(failed.key, State.FAILED, NOW, reason="550 mailbox unavailable")
    # suppressions by reason; a failure's free-text reason is not a group of its own
    assert [(r.flow, r.channel, r.state, r.reason, r.messages, r.duplicates_avoided) for r in ledger.stats()] == [
        ("receipt", "email", "failed", None, 1, 0),
        ("receipt", "email", "sent", None, 2, 2),
        ("receipt", "email", "suppressed", "holdout", 2, 0),
        ("receipt", "email", "suppressed", "no_address", 1, 0),
    ]


def test_history_holds_recent_entries_and_every_delayed_one_with_purpose_and_priority(
    ledger: SqlSendLedger,
) -> None:
    old = LedgerEntry.open(
        Trigger("s1", "c2", "vip_welcome", "vip@1", "e-1"), "welcome", Channel.EMAIL,
        NOW - timedelta(days=10), Purpose.MARKETING, 80,
    )  # fmt: skip
    recent = LedgerEntry.open(
        Trigger("s1", "c2", "win_back", "lapsed@1", "e-2"), "we_miss_you", Channel.EMAIL,
        NOW, Purpose.MARKETING, 70,
    )  # fmt: skip
    later = LedgerEntry.open(
        Trigger("s1", "c2", "neutral_nurture", "neutral@1", "e-3"), "getting_started", Channel.EMAIL,
        NOW - timedelta(days=9), Purpose.MARKETING, 30,
    )  # fmt: skip
    ledger.claim(old.suppressed("holdout"))
    ledger.claim(recent)
    ledger.claim(later.delayed(NOW + timedelta(days=1), "flow_delay"))
    ledger.claim(LedgerEntry.open(Trigger("s1", "c3", "win_back", "x", "e-4"), "we_miss_you", Channel.EMAIL, NOW))

    found = {e.flow: e for e in ledger.history("s1", "c2", NOW - timedelta(days=7))}

    assert sorted(found) == ["neutral_nurture", "win_back"]
    assert (found["win_back"].purpose, found["win_back"].priority) == (Purpose.MARKETING, 70)
    delayed = found["neutral_nurture"]
    assert (delayed.state, delayed.due_at, delayed.reason) == (State.DELAYED, NOW + timedelta(days=1), "flow_delay")
    assert delayed.past_send().scheduled and found["win_back"].past_send().at == NOW
    assert ledger.by_message_id(recent.message_id) == found["win_back"]


def test_suppressions_keep_the_latest_change_per_block_and_address(engine) -> None:
    suppressions = SqlSuppressions(engine)
    stop = Change(Channel.SMS, Block.SMS_STOP, NOW)
    start = Change(Channel.SMS, Block.SMS_STOP, NOW + timedelta(hours=1), lift=True)
    bounce = Change(Channel.EMAIL, Block.HARD_BOUNCE, NOW, address="Ada@Example.com")

    suppressions.apply("s1", "c1", stop)
    suppressions.apply("s1", "c1", start)
    suppressions.apply("s1", "c1", stop)  # replayed late: START stays
    suppressions.apply("s1", "c1", bounce)

    listed = suppressions.get("s1", "c1")
    assert listed.blocking(Channel.SMS, Purpose.MARKETING, "+14155550100") is None
    assert listed.blocking(Channel.EMAIL, Purpose.TRANSACTIONAL, "ada@example.com") is Block.HARD_BOUNCE
    assert listed.blocking(Channel.EMAIL, Purpose.MARKETING, "new@example.com") is None
    assert suppressions.get("s1", "c2") == SuppressionList()


def test_a_batch_of_claims_wins_the_new_keys_and_finds_the_taken_ones(ledger: SqlSendLedger) -> None:
    taken = ledger.claim(pending(order_id="o-taken")).entry
    batch = [pending(order_id="o-new"), pending(order_id="o-taken"), pending(order_id="o-new")]

    claims = ledger.claim_many(batch)

    assert [c.won for c in claims] == [True, False, False]  # the same key twice: the first wins
    assert claims[1].entry == taken and claims[2].entry == claims[0].entry


def test_a_batch_of_settlements_settles_pending_entries_only(ledger: SqlSendLedger) -> None:
    from boomerang.messenger.service_layer.ports import Settlement

    sent, failed = pending(order_id="o-1"), pending(order_id="o-2")
    ledger.claim_many([sent, failed])
    later = NOW + timedelta(seconds=1)

    settled = ledger.settle_many(
        [
            Settlement(sent.key, State.SENT, later, provider_message_id="sg-1"),
            Settlement(failed.key, State.FAILED, later, reason="invalid address", provider_status=400),
            Settlement(sent.key, State.FAILED, later, reason="too late"),  # no longer pending
        ]
    )

    assert (settled[0].state, settled[0].provider_message_id, settled[0].sent_at) == (State.SENT, "sg-1", later)
    assert (settled[1].state, settled[1].reason, settled[1].provider_status) == (State.FAILED, "invalid address", 400)
    assert settled[2].state is State.SENT and ledger.get(sent.key) == settled[0]


def test_entries_are_looked_up_many_at_once_one_answer_per_key(ledger: SqlSendLedger) -> None:
    first, second = pending("o-1"), pending("o-2")
    ledger.claim_many([first, second])

    found = ledger.get_many([second.key, "no-such-key", first.key, second.key])

    assert [e.key if e else None for e in found] == [second.key, None, first.key, second.key]
    assert found[2] == ledger.get(first.key)
