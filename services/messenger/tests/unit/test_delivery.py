"""Sending exactly once, with hand-written fakes of the ledger, providers and publisher."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from tenacity import RetryCallState

from boomerang.messenger.adapters.rendering import TemplateRenderer
from boomerang.messenger.domain.flows import Channel
from boomerang.messenger.domain.messages import LedgerEntry, Outbound, State, outcome_event_id
from boomerang.messenger.domain.stores import StoreProfile
from boomerang.messenger.service_layer.composing import Composer
from boomerang.messenger.service_layer.delivery import Delivery
from boomerang.messenger.service_layer.handlers import Messenger
from boomerang.messenger.service_layer.ports import LookupUnavailable, ProviderError
from boomerang.messenger.service_layer.retry import RetryPolicy
from boomerang.shared.events import CustomerIdentified, Envelope, OrderPlaced

from .fakes import FakeContacts, FakeLedger, FakeOutcomes

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
SHOP = "https://shop.example"


def clock() -> datetime:
    return NOW


class FakeProvider:
    """Accepts messages into `accepted`; `script` lists errors to raise, one per call, first."""

    def __init__(
        self,
        name: str,
        script: list[ProviderError | tuple[str, ProviderError]] | None = None,
        lookup_lag: timedelta = timedelta(0),
    ) -> None:
        self.name = name
        self.lookup_lag = lookup_lag
        self.lookup: LookupUnavailable | ProviderError | None = None  # raised by find when set
        self.script = list(script or [])
        self.accepted: dict[str, Outbound] = {}
        self.sends = 0
        self.finds = 0

    async def send(self, message: Outbound) -> str | None:
        self.sends += 1
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, tuple):  # ("accept", error): taken, then the answer is lost
                self.accepted[message.message_id] = message
                raise step[1]
            raise step
        self.accepted[message.message_id] = message
        return f"{self.name}-{message.message_id}"

    async def find(self, entry: LedgerEntry, sent_since: datetime) -> str | None:
        self.finds += 1
        if self.lookup is not None:
            raise self.lookup
        return f"{self.name}-{entry.message_id}" if entry.message_id in self.accepted else None


class World:
    def __init__(self, email_script=None, sms_script=None, email_lookup_lag: timedelta = timedelta(0)) -> None:
        self.now = NOW
        self.ledger = FakeLedger()
        self.email = FakeProvider("sendgrid", email_script, email_lookup_lag)
        self.sms = FakeProvider("twilio", sms_script)
        self.outcomes = FakeOutcomes()
        self.contacts = FakeContacts()
        self.delivery = Delivery(
            self.ledger,
            {Channel.EMAIL: self.email, Channel.SMS: self.sms},
            self.outcomes,
            lambda: self.now,
            RetryPolicy(attempts=3, initial_s=0.001, max_s=0.01),
        )
        composer = Composer(TemplateRenderer(), lambda store: StoreProfile(store, "Shop", SHOP, "help@shop.example"))
        self.messenger = Messenger(self.contacts, self.delivery, composer, lambda: self.now)

    def receipt(self) -> LedgerEntry:
        (entry,) = [e for e in self.ledger.rows.values() if (e.flow, e.step) == ("receipt", "email")]
        return entry

    async def run_scheduler_at(self, now: datetime) -> list[LedgerEntry | None]:
        self.now = now
        claimed = self.delivery.claim_due(10, timedelta(minutes=5))
        return [await self.messenger.send_due(entry) for entry in claimed]

    def states(self) -> dict[str, State]:
        # The receipt's; an order also schedules the feedback request (see test_scheduler.py).
        return {e.step: e.state for e in self.ledger.rows.values() if e.flow == "receipt"}


def identified(**data) -> Envelope:
    event = CustomerIdentified(**data)
    return Envelope.wrap(event, store_id="s1", customer_id="c1", source="test", time=NOW, id="evt-identify")


def order_placed(order_id: str = "o-1", envelope_id: str = "evt-order", **data) -> Envelope:
    event = OrderPlaced(order_id=order_id, placed_at=NOW, total=Decimal("10"), **data)
    return Envelope.wrap(event, store_id="s1", customer_id="c1", source="test", time=NOW, id=envelope_id)


async def test_an_order_sends_one_email_and_one_sms_and_publishes_both_outcomes() -> None:
    world = World()
    await world.messenger.handle(
        identified(email="ada@example.com", phone="+14155550100", sms_marketing_consent=True)
    )

    await world.messenger.handle(order_placed())

    assert (world.email.sends, world.sms.sends) == (1, 1)
    assert world.states() == {"email": State.SENT, "sms": State.SENT}
    assert [e.type for e in world.outcomes.envelopes] == ["message.sent", "message.sent"]
    assert all(e.key == "s1:c1" for e in world.outcomes.envelopes)
    email_entry = next(e for e in world.ledger.rows.values() if e.step == "email")
    assert world.outcomes.envelopes[0].id == outcome_event_id(email_entry.key, State.SENT)


async def test_a_replayed_order_sends_nothing_and_counts_a_duplicate() -> None:
    world = World()
    await world.messenger.handle(identified(email="ada@example.com"))
    await world.messenger.handle(order_placed(envelope_id="evt-1"))

    await world.messenger.handle(order_placed(envelope_id="evt-2"))  # same order, new envelope

    assert world.email.sends == 1
    (entry,) = [e for e in world.ledger.rows.values() if e.flow == "receipt"]
    assert entry.duplicate_hits == 1
    assert len(world.outcomes.envelopes) == 1  # already published: not again


async def test_an_outcome_not_yet_published_is_published_on_redelivery() -> None:
    world = World()
    await world.messenger.handle(identified(email="ada@example.com"))
    await world.messenger.handle(order_placed())
    key = next(iter(world.ledger.rows))
    world.ledger.rows[key] = replace(world.ledger.rows[key], published_at=None)  # crashed before marking

    await world.messenger.handle(order_placed())

    assert world.email.sends == 1
    assert [e.id for e in world.outcomes.envelopes] == [outcome_event_id(key, State.SENT)] * 2


async def test_no_address_is_suppressed_and_published() -> None:
    world = World()

    await world.messenger.handle(order_placed())

    assert world.states() == {"email": State.SUPPRESSED}
    (envelope,) = world.outcomes.envelopes
    assert envelope.type == "message.suppressed" and envelope.data["reason"] == "no_address"


async def test_429_is_retried_honouring_retry_after_then_sent_once() -> None:
    world = World(email_script=[ProviderError("sendgrid", 429, "too many requests", retry_after=0.0)] * 2)
    await world.messenger.handle(identified(email="ada@example.com"))

    await world.messenger.handle(order_placed())

    assert world.email.sends == 3
    assert world.email.finds == 0  # a 429 is a refusal, nothing to look for
    assert world.states() == {"email": State.SENT}


async def test_a_permanent_4xx_fails_the_message_with_the_providers_reason() -> None:
    world = World(sms_script=[ProviderError("twilio", 400, "21211: invalid To")])
    await world.messenger.handle(identified(phone="+14155550100", sms_marketing_consent=True))

    await world.messenger.handle(order_placed(email="guest@example.com"))

    assert world.sms.sends == 1
    failed = next(e for e in world.outcomes.envelopes if e.type == "message.failed")
    assert failed.data["reason"] == "21211: invalid To"
    assert failed.data["provider_status"] == 400


async def test_retries_are_bounded() -> None:
    world = World(email_script=[ProviderError("sendgrid", 503, "unavailable")] * 5)
    await world.messenger.handle(identified(email="ada@example.com"))

    await world.messenger.handle(order_placed())

    assert world.email.sends == 3
    assert world.states() == {"email": State.FAILED}


async def test_after_a_5xx_the_provider_is_asked_before_sending_again() -> None:
    # The provider took the message and then answered 500: sending again would duplicate it.
    world = World(email_script=[("accept", ProviderError("sendgrid", 500, "internal error"))])
    await world.messenger.handle(identified(email="ada@example.com"))

    await world.messenger.handle(order_placed())

    assert world.email.sends == 1
    assert world.email.finds == 1
    assert world.states() == {"email": State.SENT}


LAG = timedelta(minutes=10)  # SendGrid's Email Activity: a message shows up minutes after it is taken


@pytest.mark.parametrize("taken", [True, False])
async def test_an_unanswered_send_is_looked_up_only_once_the_lookup_can_be_trusted(taken: bool) -> None:
    lost = ProviderError("sendgrid", None, "unreachable: timed out")
    world = World(email_script=[("accept", lost) if taken else lost], email_lookup_lag=LAG)
    await world.messenger.handle(identified(email="ada@example.com"))

    await world.messenger.handle(order_placed())

    waiting = world.receipt()
    assert (waiting.state, waiting.reason, waiting.due_at) == (State.DELAYED, "awaiting_lookup", NOW + LAG)
    assert world.email.finds == 0 and world.email.sends == 1
    assert world.outcomes.envelopes == []  # no outcome yet: it is not known
    assert await world.run_scheduler_at(NOW + LAG - timedelta(seconds=1)) == []

    await world.run_scheduler_at(NOW + LAG)

    assert world.receipt().state is State.SENT and world.email.finds == 1
    # Taken: found, not sent again. Not taken: the same message, as composed the first time.
    assert world.email.sends == (1 if taken else 2)
    assert world.email.accepted[waiting.message_id] == Outbound.from_json(waiting.unconfirmed_message)


@pytest.mark.parametrize(("attempted_ago", "sends"), [(timedelta(minutes=1), 1), (timedelta(minutes=11), 2)])
async def test_a_pending_entry_the_provider_lacks_is_sent_again_only_past_the_lookup_lag(
    attempted_ago: timedelta, sends: int
) -> None:
    world = World(email_lookup_lag=LAG)
    await world.messenger.handle(identified(email="ada@example.com"))
    await world.messenger.handle(order_placed())
    entry = world.receipt()
    # The process died as the call went out, `attempted_ago`; the message never reached the provider.
    crashed = replace(entry, state=State.PENDING, published_at=None, updated_at=NOW - attempted_ago)
    world.ledger.rows[entry.key] = crashed
    world.email.accepted.clear()

    await world.messenger.handle(order_placed())

    assert world.email.sends == sends
    if sends == 1:
        assert world.receipt().state is State.DELAYED and world.receipt().due_at == crashed.updated_at + LAG
    else:
        assert world.receipt().state is State.SENT


@pytest.mark.parametrize(
    "lookup",
    [LookupUnavailable("sendgrid: no Email Activity"), ProviderError("sendgrid", 403, "access forbidden")],
    ids=["no-lookup", "lookup-refused"],
)
async def test_a_send_of_unknown_outcome_that_cannot_be_looked_up_fails_for_a_person_to_decide(lookup) -> None:
    world = World(email_script=[("accept", ProviderError("sendgrid", 502, "bad gateway"))])
    world.email.lookup = lookup
    await world.messenger.handle(identified(email="ada@example.com"))

    await world.messenger.handle(order_placed())

    assert world.email.sends == 1  # never sent blindly
    assert world.receipt().state is State.FAILED
    failed = next(e for e in world.outcomes.envelopes if e.type == "message.failed")
    assert failed.data["reason"].startswith("outcome unknown and the provider cannot be asked")


async def test_a_send_awaiting_its_lookup_is_failed_when_the_lookup_is_refused_when_due() -> None:
    world = World(email_script=[ProviderError("sendgrid", None, "unreachable")], email_lookup_lag=LAG)
    await world.messenger.handle(identified(email="ada@example.com"))
    await world.messenger.handle(order_placed())
    world.email.lookup = ProviderError("sendgrid", 401, "authorization required")

    await world.run_scheduler_at(NOW + LAG)

    assert world.email.sends == 1 and world.receipt().state is State.FAILED


async def test_a_pending_entry_that_cannot_be_looked_up_is_failed_not_sent_again() -> None:
    world = World()
    await world.messenger.handle(identified(email="ada@example.com"))
    await world.messenger.handle(order_placed())
    entry = world.receipt()
    world.ledger.rows[entry.key] = replace(entry, state=State.PENDING, published_at=None)
    world.email.lookup = LookupUnavailable("sendgrid: no Email Activity")

    await world.messenger.handle(order_placed())

    assert world.email.sends == 1 and world.receipt().state is State.FAILED


@pytest.mark.parametrize("provider_has_it", [True, False])
async def test_a_pending_entry_is_reconciled_with_the_provider(provider_has_it: bool) -> None:
    world = World()
    await world.messenger.handle(identified(email="ada@example.com"))
    await world.messenger.handle(order_placed())
    key, entry = next(iter(world.ledger.rows.items()))
    # As if the process died between the provider call and recording its outcome.
    world.ledger.rows[key] = replace(entry, state=State.PENDING, published_at=None, provider_message_id=None)
    if not provider_has_it:
        world.email.accepted.clear()

    await world.messenger.handle(order_placed())

    assert world.email.sends == (1 if provider_has_it else 2)
    assert world.ledger.rows[key].state is State.SENT
    assert world.ledger.rows[key].attempts == 2
    assert world.ledger.rows[key].duplicate_hits == 0


async def test_a_pending_entry_resumed_by_someone_else_is_left_alone() -> None:
    world = World()
    await world.messenger.handle(identified(email="ada@example.com"))
    await world.messenger.handle(order_placed())
    key, entry = next(iter(world.ledger.rows.items()))
    world.ledger.rows[key] = replace(entry, state=State.PENDING, published_at=None)
    stale = world.ledger.rows[key]
    assert world.ledger.take_over(key, stale.attempts, NOW)  # another worker got there first

    await world.delivery._seen_again(stale, None, reason=None)

    assert world.email.sends == 1 and world.email.finds == 0


def failed_call(error: ProviderError) -> RetryCallState:
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.set_exception((type(error), error, None))
    return state


def test_waits_honour_retry_after_within_the_bound() -> None:
    policy = RetryPolicy(attempts=3, initial_s=0.5, max_s=5)

    assert 3 <= policy.wait(failed_call(ProviderError("twilio", 429, "slow down", retry_after=3))) <= 3.2
    assert policy.wait(failed_call(ProviderError("twilio", 429, "slow down", retry_after=60))) == 5
    assert 0.5 <= policy.wait(failed_call(ProviderError("twilio", 503, "unavailable"))) <= 1.0


async def test_events_no_flow_listens_to_are_ignored_even_of_unknown_types() -> None:
    world = World()
    unknown = Envelope(
        id="e",
        type="commerce.wishlist.shared",
        source="t",
        time=NOW,
        store_id="s1",
        customer_id="c1",
        data={},
    )

    await world.messenger.handle(unknown)

    assert world.ledger.rows == {} and world.outcomes.envelopes == []
