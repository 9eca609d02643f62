"""Sending exactly once: the ledger entry is committed before the provider is called.

Redelivered or replayed triggers find their key settled and send nothing. A key found still
pending means an earlier attempt stopped between writing the ledger and recording the outcome;
the provider is asked whether it has the message before anything is sent again.

A send whose outcome is unknown (a lost connection, a timeout, a 5xx) is looked up at the
provider before it is sent again. Where the provider's lookup lags behind its sends (SendGrid's
Email Activity), a miss is no proof until `lookup_lag` has passed since the send: the entry
waits as `delayed` for AWAITING_LOOKUP with its message, and the scheduler looks it up then and
sends the same message only if it is not there (`send_unconfirmed`). Where the provider cannot
be asked at all (LookupUnavailable: no lookup on the account, or a 4xx from it), the message is
failed for a person to decide, never sent blindly.

Claims, settlements and "published" notes of concurrent sends (the consumer's batch) are written
in one ledger transaction each (`service_layer.batching`); a claim is still committed before its
provider call, and the outcome after it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from boomerang.messenger import metrics
from boomerang.messenger.domain.caps import PastSend
from boomerang.messenger.domain.flows import Channel
from boomerang.messenger.domain.messages import (
    LedgerEntry,
    Outbound,
    State,
    outcome_event,
    outcome_event_id,
)
from boomerang.messenger.service_layer.ports import (
    LookupUnavailable,
    OutcomePublisher,
    Provider,
    ProviderError,
    SendLedger,
    Settlement,
)
from boomerang.messenger.service_layer.batching import Batched
from boomerang.messenger.service_layer.retry import RetryPolicy
from boomerang.shared.events import Envelope
from boomerang.shared.logs import get_logger

SOURCE = "boomerang.messenger"
AWAITING_LOOKUP = "awaiting_lookup"  # the reason of a send waiting until the provider can say
UNVERIFIABLE = "outcome unknown and the provider cannot be asked: not sent again"
log = get_logger(__name__)


class _Unconfirmed(Exception):
    """The provider may have taken the message, and cannot say so yet (its lookup_lag)."""


class Delivery:
    def __init__(
        self,
        ledger: SendLedger,
        providers: Mapping[Channel, Provider],
        outcomes: OutcomePublisher,
        clock: Callable[[], datetime],
        retry: RetryPolicy | None = None,
        clock_skew: timedelta = timedelta(minutes=2),
    ) -> None:
        self._ledger = ledger
        self._providers = providers
        self._outcomes = outcomes
        self._clock = clock
        self._retry = retry or RetryPolicy()
        self._clock_skew = clock_skew
        self._claims = Batched(ledger.claim_many)
        self._settles = Batched(ledger.settle_many)
        self._published: Batched[list[str], None] = Batched(self._mark_published)
        self._lookups: Batched[str, LedgerEntry | None] = Batched(ledger.get_many)

    async def send(self, entry: LedgerEntry, message: Outbound) -> LedgerEntry | None:
        """The settled entry, to `publish`; None when another worker is settling it."""
        provider = self._providers[message.channel]
        claim = await self._claims(entry.pending(message, provider.name))
        if claim.won:
            return await self._hand_over(claim.entry, message)
        return await self._seen_again(claim.entry, message, reason=None)

    async def suppress(self, entry: LedgerEntry, reason: str) -> LedgerEntry | None:
        claim = await self._claims(entry.suppressed(reason))
        if claim.won:
            metrics.MESSAGES.labels(entry.flow, entry.channel.value, State.SUPPRESSED.value).inc()
            return claim.entry
        return await self._seen_again(claim.entry, None, reason=reason)

    async def delay(self, entry: LedgerEntry, until: datetime, reason: str) -> LedgerEntry | None:
        """Record that the message is due at `until`: it stays `delayed` in the ledger (counted by
        the caps as scheduled, not published) until the scheduler claims it."""
        claim = await self._claims(entry.delayed(until, reason))
        if claim.won:
            metrics.DELAYED.labels(entry.flow, reason).inc()
            log.info("message_delayed", message_id=entry.message_id, flow=entry.flow, reason=reason)
            return claim.entry
        return await self._seen_again(claim.entry, None, reason=reason)

    # --- the scheduler's side: entries it claimed from `delayed` (see service_layer.scheduler) ---

    def claim_due(self, limit: int, lease: timedelta) -> list[LedgerEntry]:
        """Due delayed entries, now pending and this worker's; also scheduled sends a crashed
        worker left pending for longer than `lease`."""
        now = self._clock()
        return self._ledger.claim_due(now, now - lease, limit)

    async def send_claimed(self, entry: LedgerEntry, message: Outbound) -> LedgerEntry:
        """Send a claimed entry: its recipient and body go to the ledger before the provider call."""
        provider = self._providers[message.channel]
        entry = self._ledger.record_message(
            entry.key, message.channel, message.to, message.body_digest, provider.name, self._clock()
        )
        return await self._hand_over(entry, message)

    async def send_unconfirmed(self, entry: LedgerEntry) -> LedgerEntry:
        """A claimed send that awaited its lookup: settled as sent if the provider has it, else
        the same message goes again (it was decided, and may have been composed with a coupon,
        when it first went out)."""
        assert entry.unconfirmed_message is not None
        if (found := await self.found_at_provider(entry)) is not None:
            return found
        return await self._hand_over(entry, Outbound.from_json(entry.unconfirmed_message))

    async def found_at_provider(self, entry: LedgerEntry) -> LedgerEntry | None:
        """A claimed entry whose message was written down before a crash: settled as sent if the
        provider has it, else None (decide and send it again). A miss before the provider's
        lookup can be trusted (the scheduler's lease is shorter than SendGrid's lag) delays the
        entry as AWAITING_LOOKUP once, to be looked up again then."""
        try:
            found = await self._retry.run(lambda: self._find(entry), self._count_retry)
        except LookupUnavailable as error:
            return self._unverifiable(entry, error)
        lag = self._providers[entry.channel].lookup_lag
        if found is None and lag and entry.reason != AWAITING_LOOKUP:
            return self._await_lookup(entry, self._clock() + lag)
        metrics.RECONCILED.labels(entry.channel.value, "found" if found else "missing").inc()
        return self._settle(entry, State.SENT, provider_message_id=found) if found is not None else None

    def suppress_claimed(self, entry: LedgerEntry, reason: str) -> LedgerEntry:
        return self._settle(entry, State.SUPPRESSED, reason=reason)

    def delay_claimed(self, entry: LedgerEntry, channel: Channel, until: datetime, reason: str) -> LedgerEntry:
        metrics.DELAYED.labels(entry.flow, reason).inc()
        log.info("message_delayed", message_id=entry.message_id, flow=entry.flow, reason=reason)
        return self._ledger.reschedule(entry.key, channel, until, reason, self._clock())

    def delayed_for(self, store_id: str, customer_id: str) -> list[LedgerEntry]:
        return self._ledger.delayed_for(store_id, customer_id)

    def cancel(self, entry: LedgerEntry, reason: str) -> LedgerEntry | None:
        """Settle a delayed entry as suppressed (an exit condition); None if the scheduler has
        it already."""
        cancelled = self._ledger.cancel(entry.key, reason, self._clock())
        if cancelled is not None:
            metrics.MESSAGES.labels(entry.flow, entry.channel.value, State.SUPPRESSED.value).inc()
            log.info("message_cancelled", message_id=entry.message_id, flow=entry.flow, reason=reason)
        return cancelled

    async def recall(self, key: str) -> LedgerEntry | None:
        """The key's settled entry, counted as a duplicate: its trigger is not decided again.
        None when the key is new or still pending (the caller decides and sends or resumes).
        The lookups of a consumer batch's messages are one read."""
        existing = await self._lookups(key)
        if existing is None or not existing.settled:
            return None
        self._ledger.count_duplicate(key)
        metrics.DUPLICATES_AVOIDED.labels(existing.flow, existing.channel.value).inc()
        log.info("duplicate_avoided", message_id=existing.message_id, state=existing.state.value)
        return existing

    def history(self, store_id: str, customer_id: str, since: datetime) -> list[PastSend]:
        entries = self._ledger.history(store_id, customer_id, since)
        return [send for entry in entries if (send := entry.past_send()) is not None]

    def recipient_of(self, message_id: str) -> str | None:
        entry = self._ledger.by_message_id(message_id)
        return entry.recipient if entry else None

    async def publish(self, entries: list[LedgerEntry | None]) -> None:
        """Outcomes not published yet, in one batch: an ack from Kafka, then the ledger notes it."""
        due = [e for e in entries if e is not None and e.publishable and e.published_at is None]
        if not due:
            return
        await self._outcomes.publish([_envelope(e) for e in due])
        await self._published([e.key for e in due])

    def _mark_published(self, batches: Sequence[list[str]]) -> list[None]:
        self._ledger.mark_published([key for keys in batches for key in keys], self._clock())
        return [None] * len(batches)

    async def _seen_again(
        self, existing: LedgerEntry, message: Outbound | None, reason: str | None
    ) -> LedgerEntry | None:
        if existing.settled:
            self._ledger.count_duplicate(existing.key)
            metrics.DUPLICATES_AVOIDED.labels(existing.flow, existing.channel.value).inc()
            log.info("duplicate_avoided", message_id=existing.message_id, state=existing.state.value)
            return existing  # published again only if the earlier attempt did not get that far
        if existing.due_at is not None:
            # A scheduled send the scheduler has claimed: it owns it (and its lease recovers it
            # after a crash), so a redelivered trigger must not take it over.
            log.info("pending_scheduled", message_id=existing.message_id)
            return None
        if not self._ledger.take_over(existing.key, existing.attempts, self._clock()):
            log.warning("pending_taken_by_another", message_id=existing.message_id)
            return None
        return await self._resume(existing, message, reason)

    async def _resume(
        self, existing: LedgerEntry, message: Outbound | None, reason: str | None
    ) -> LedgerEntry:
        channel = existing.channel.value
        try:
            found = await self._retry.run(lambda: self._find(existing), self._count_retry)
        except LookupUnavailable as error:
            return self._unverifiable(existing, error)
        if found is not None:
            metrics.RECONCILED.labels(channel, "found").inc()
            log.info("reconciled_sent", message_id=existing.message_id)
            return self._settle(existing, State.SENT, provider_message_id=found)
        reliable_at = existing.updated_at + self._providers[existing.channel].lookup_lag
        if message is not None and reliable_at > self._clock():
            return self._await_lookup(existing, reliable_at, message)
        metrics.RECONCILED.labels(channel, "missing").inc()
        log.info("reconciled_missing", message_id=existing.message_id, sending=message is not None)
        if message is None:
            return self._settle(existing, State.SUPPRESSED, reason=reason)
        return await self._hand_over(existing, message)

    async def _hand_over(self, entry: LedgerEntry, message: Outbound) -> LedgerEntry:
        provider = self._providers[message.channel]
        sent_as = replace(entry, recipient=message.to, body_digest=message.body_digest)
        uncertain = False

        async def attempt() -> str | None:
            nonlocal uncertain
            # After a 5xx or a lost connection the provider may have taken the message: look first.
            if uncertain and (found := await self._find(sent_as)) is not None:
                return found
            try:
                return await provider.send(message)
            except ProviderError as error:
                if error.ambiguous and provider.lookup_lag:
                    raise _Unconfirmed from error
                uncertain = uncertain or error.ambiguous
                raise

        started = time.perf_counter()
        try:
            provider_message_id = await self._retry.run(attempt, self._count_retry)
        except _Unconfirmed:
            return self._await_lookup(entry, self._clock() + provider.lookup_lag, message)
        except LookupUnavailable as error:
            return self._unverifiable(entry, error)
        except ProviderError as error:
            # Provider reasons quote addresses: they go to the ledger and the event, not the log.
            log.warning(
                "send_failed", message_id=entry.message_id, provider=error.provider, status=error.status
            )
            failed = Settlement(
                entry.key, State.FAILED, self._clock(), reason=error.reason, provider_status=error.status
            )
            return self._noted(entry, await self._settles(failed), State.FAILED)
        finally:
            metrics.SEND_SECONDS.labels(provider.name).observe(time.perf_counter() - started)
        sent = Settlement(entry.key, State.SENT, self._clock(), provider_message_id=provider_message_id)
        return self._noted(entry, await self._settles(sent), State.SENT)

    def _await_lookup(
        self, entry: LedgerEntry, until: datetime, message: Outbound | None = None
    ) -> LedgerEntry:
        """Delayed until the provider's lookup can be trusted; with the message to send again if
        given (else the step is decided again then, as any scheduled one)."""
        metrics.DELAYED.labels(entry.flow, AWAITING_LOOKUP).inc()
        log.warning("send_unconfirmed", message_id=entry.message_id, look_up_at=until.isoformat())
        channel, unconfirmed = (message.channel, message.to_json()) if message else (entry.channel, None)
        return self._ledger.reschedule(entry.key, channel, until, AWAITING_LOOKUP, self._clock(), unconfirmed)

    def _unverifiable(self, entry: LedgerEntry, error: LookupUnavailable) -> LedgerEntry:
        """Perhaps sent, and no way to know: failed for a person to decide, never sent blindly."""
        metrics.RECONCILED.labels(entry.channel.value, "unverifiable").inc()
        log.warning("outcome_unverifiable", message_id=entry.message_id)
        return self._settle(entry, State.FAILED, reason=f"{UNVERIFIABLE} ({error})")

    async def _find(self, entry: LedgerEntry) -> str | None:
        try:
            return await self._providers[entry.channel].find(entry, entry.created_at - self._clock_skew)
        except ProviderError as error:
            if error.retryable:
                raise
            raise LookupUnavailable(f"{error.provider} {error.status}: {error.reason}") from error

    def _settle(self, entry: LedgerEntry, state: State, **outcome: object) -> LedgerEntry:
        settled = self._ledger.settle(entry.key, state, self._clock(), **outcome)  # type: ignore[arg-type]
        return self._noted(entry, settled, state)

    @staticmethod
    def _noted(entry: LedgerEntry, settled: LedgerEntry, state: State) -> LedgerEntry:
        metrics.MESSAGES.labels(entry.flow, entry.channel.value, state.value).inc()
        log.info(
            "message_settled",
            message_id=entry.message_id,
            flow=entry.flow,
            channel=entry.channel.value,
            state=state.value,
        )
        return settled

    @staticmethod
    def _count_retry(error: ProviderError) -> None:
        metrics.PROVIDER_RETRIES.labels(error.provider, str(error.status or "none")).inc()


def _envelope(entry: LedgerEntry) -> Envelope:
    return Envelope.wrap(
        outcome_event(entry),
        store_id=entry.store_id,
        customer_id=entry.customer_id,
        source=SOURCE,
        time=entry.updated_at,
        id=outcome_event_id(entry.key, entry.state),
    )
