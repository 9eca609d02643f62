"""Messages, their idempotency keys, and the send ledger's entries.

One ledger entry per idempotency key (store, customer, flow, step, trigger instance). Every id
derived from the key is deterministic, so a replayed trigger names the same message and the same
outcome event, and downstream consumers de-duplicate on them.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from enum import StrEnum
from urllib.parse import quote

from boomerang.messenger.domain.caps import PastSend
from boomerang.messenger.domain.flows import Channel, Purpose
from boomerang.shared.events import Event, MessageFailed, MessageSent, MessageSuppressed
from boomerang.shared.events.attribution import MessageAttribution

_NAMESPACE = uuid.UUID("6f1b7c52-3a8e-4d0f-9a57-0c2f1e6b8d41")


class State(StrEnum):
    PENDING = "pending"  # written before the provider call; outcome not recorded yet
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    # Due later (a flow's delay, a send window, SMS quiet hours): recorded with `due_at` and not
    # published. The scheduler claims it at `due_at` (back to PENDING, `due_at` kept) and decides again.
    DELAYED = "delayed"


@dataclass(frozen=True)
class Trigger:
    """One instance of a flow's trigger: the order that asks for a receipt."""

    store_id: str
    customer_id: str
    flow: str
    trigger_id: str  # e.g. the order id
    event_id: str  # the envelope that carried it


def idempotency_key(store_id: str, customer_id: str, flow: str, step: str, trigger_id: str) -> str:
    # Percent-encoding each part keeps the key unambiguous when ids contain the separator.
    return "/".join(quote(part, safe="") for part in (store_id, customer_id, flow, step, trigger_id))


def message_id_for(key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, key))


def outcome_event_id(key: str, state: State) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{key}#{state.value}"))


def digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class Rendered:
    text: str
    subject: str | None = None
    html: str | None = None  # as the templates wrote it: the email adapter inlines the stylesheet
    locale: str | None = None  # the template locale the message was written from


@dataclass(frozen=True)
class Outbound:
    """A rendered message, ready for a provider."""

    message_id: str
    store_id: str
    customer_id: str
    flow: str
    step: str
    channel: Channel
    to: str
    text: str
    subject: str | None = None
    html: str | None = None
    # Email headers (List-Unsubscribe on marketing mail) and where replies go.
    headers: tuple[tuple[str, str], ...] = ()
    reply_to: str | None = None

    @property
    def body_digest(self) -> str:
        return digest(self.text)

    def attribution(self) -> dict[str, str]:
        """Ids the provider echoes back (SendGrid custom_args, Twilio's callback URL) for feedback."""
        return MessageAttribution(self.message_id, self.store_id, self.customer_id, self.flow).as_args()

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Outbound:
        data = json.loads(text)
        headers = tuple((name, value) for name, value in data.pop("headers"))
        return cls(**{**data, "channel": Channel(data["channel"]), "headers": headers})


@dataclass(frozen=True)
class LedgerEntry:
    key: str
    message_id: str
    store_id: str
    customer_id: str
    flow: str
    step: str
    channel: Channel
    trigger_id: str
    trigger_event_id: str
    state: State
    created_at: datetime
    updated_at: datetime
    recipient: str | None = None
    body_digest: str | None = None
    reason: str | None = None
    provider: str | None = None
    provider_message_id: str | None = None
    provider_status: int | None = None
    attempts: int = 0
    duplicate_hits: int = 0
    sent_at: datetime | None = None
    published_at: datetime | None = None
    # What the frequency caps need to count this entry (None on rows written before 0003:
    # receipts, which are transactional).
    purpose: Purpose | None = None
    priority: int | None = None
    due_at: datetime | None = None  # DELAYED: when it may go out
    # A time-after-event step: its trigger envelope as JSON, for the content when it is due.
    trigger_data: str | None = None
    # AWAITING_LOOKUP: the message as it went out (Outbound JSON), to send again should the
    # provider, asked once its lookups are reliable, not have it.
    unconfirmed_message: str | None = None

    @classmethod
    def open(
        cls,
        trigger: Trigger,
        step: str,
        channel: Channel,
        now: datetime,
        purpose: Purpose | None = None,
        priority: int | None = None,
    ) -> LedgerEntry:
        key = idempotency_key(trigger.store_id, trigger.customer_id, trigger.flow, step, trigger.trigger_id)
        return cls(
            key=key,
            message_id=message_id_for(key),
            store_id=trigger.store_id,
            customer_id=trigger.customer_id,
            flow=trigger.flow,
            step=step,
            channel=channel,
            trigger_id=trigger.trigger_id,
            trigger_event_id=trigger.event_id,
            state=State.PENDING,
            created_at=now,
            updated_at=now,
            purpose=purpose,
            priority=priority,
        )

    def pending(self, message: Outbound, provider: str) -> LedgerEntry:
        return replace(
            self,
            state=State.PENDING,
            recipient=message.to,
            body_digest=message.body_digest,
            provider=provider,
            attempts=1,
        )

    def suppressed(self, reason: str) -> LedgerEntry:
        return replace(self, state=State.SUPPRESSED, reason=reason)

    def delayed(self, until: datetime, reason: str) -> LedgerEntry:
        return replace(self, state=State.DELAYED, due_at=until, reason=reason)

    @property
    def settled(self) -> bool:
        return self.state is not State.PENDING

    @property
    def publishable(self) -> bool:
        """Has an outcome for message.events.v1 (a delayed entry has none yet)."""
        return self.settled and self.state is not State.DELAYED

    def past_send(self) -> PastSend | None:
        """This entry as the frequency caps count it: sent or being sent, or scheduled (delayed);
        None for what never reached the customer (suppressed, failed)."""
        purpose = self.purpose or Purpose.TRANSACTIONAL
        priority = self.priority or 0
        if self.state is State.SENT:
            at = self.sent_at or self.updated_at
        elif self.state is State.PENDING:
            # May have reached the provider: counts as sent; a scheduled one when it was claimed.
            at = self.updated_at if self.due_at is not None else self.created_at
        elif self.state is State.DELAYED and self.due_at is not None:
            return PastSend(self.key, self.flow, self.channel, self.due_at, purpose, priority, scheduled=True)
        else:
            return None
        return PastSend(self.key, self.flow, self.channel, at, purpose, priority)


def outcome_event(entry: LedgerEntry) -> Event:
    """What the messenger tells the rest of Boomerang about a settled entry."""
    common = {
        "message_id": entry.message_id,
        "idempotency_key": entry.key,
        "flow": entry.flow,
        "step": entry.step,
        "channel": entry.channel.value,
        "trigger_event_id": entry.trigger_event_id,
    }
    if entry.state is State.SENT:
        return MessageSent(
            **common, provider=entry.provider or "", provider_message_id=entry.provider_message_id
        )
    if entry.state is State.SUPPRESSED:
        return MessageSuppressed(**common, reason=entry.reason or "")
    if entry.state is State.FAILED:
        return MessageFailed(
            **common,
            reason=entry.reason or "",
            provider=entry.provider or "",
            provider_status=entry.provider_status,
        )
    raise ValueError(f"entry {entry.key} is still pending")
