"""A customer's suppression list: what they (or their mailbox, or their carrier) told us to stop.

Built from `feedback.events.v1` (`change_for` maps a provider event onto a change) and
consulted before every send (`blocking`). An unsubscribe or STOP is about the person and a
channel; a hard bounce is about one address, so a new address is not blocked by the old
one's bounce.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from boomerang.messenger.domain.flows import Channel, Purpose


class Block(StrEnum):
    # The values are the suppression reasons published in MessageSuppressed.
    SPAM_COMPLAINT = "spam_complaint"
    HARD_BOUNCE = "hard_bounce"
    UNSUBSCRIBED = "unsubscribed"
    SMS_STOP = "sms_stop"


# The order a reason is reported in when several apply: the most definite first.
BLOCK_ORDER = (Block.SPAM_COMPLAINT, Block.HARD_BOUNCE, Block.SMS_STOP, Block.UNSUBSCRIBED)
# What still applies to transactional messages: an address that does not exist (sending to it
# hurts the sender's reputation for nothing) and an SMS STOP (the carrier refuses every
# message from the sender until START, Twilio error 21610).
_TRANSACTIONAL_BLOCKS = frozenset({Block.HARD_BOUNCE, Block.SMS_STOP})
# SMS keywords carriers and Twilio honour (case-insensitive, the whole message).
STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke"})
START_WORDS = frozenset({"start", "yes", "unstop"})
# Twilio error codes that mean the number cannot receive SMS at all: unknown, or a landline.
_SMS_DEAD_NUMBER = frozenset({"30005", "30006"})
_SMS_OPTED_OUT = "21610"


@dataclass(frozen=True)
class Change:
    """A block added, or lifted (`lift=True`), on a channel at `at`."""

    channel: Channel
    block: Block
    at: datetime
    lift: bool = False
    address: str | None = None  # hard bounces only: the address that bounced

    @property
    def key(self) -> tuple[Channel, Block, str | None]:
        return (self.channel, self.block, self.address.casefold() if self.address else None)


@dataclass(frozen=True)
class SuppressionList:
    """The latest change per (channel, block, address). Older changes arriving later (a replay,
    a late webhook) do not undo newer ones: a STOP replayed after START stays lifted."""

    latest: tuple[Change, ...] = ()

    def apply(self, change: Change) -> SuppressionList:
        current = next((c for c in self.latest if c.key == change.key), None)
        if current is not None and change.at < current.at:
            return self
        others = tuple(c for c in self.latest if c.key != change.key)
        return replace(self, latest=(*others, change))

    @property
    def active(self) -> tuple[Change, ...]:
        return tuple(change for change in self.latest if not change.lift)

    def blocking(self, channel: Channel, purpose: Purpose, address: str | None) -> Block | None:
        """Why this channel may not be used for this purpose and address; None if it may."""
        applies = _TRANSACTIONAL_BLOCKS if purpose is Purpose.TRANSACTIONAL else frozenset(Block)
        found = {
            change.block
            for change in self.active
            if change.channel is channel and change.block in applies and _reaches(change, address)
        }
        return next((block for block in BLOCK_ORDER if block in found), None)


EMPTY = SuppressionList()


def _reaches(change: Change, address: str | None) -> bool:
    # A bounce blocks the address that bounced, not the customer's next one.
    if change.address is None:
        return True
    return address is not None and change.address.casefold() == address.casefold()


def change_for(
    provider: str, kind: str, at: datetime, *, reason: str | None = None, address: str | None = None
) -> Change | None:
    """The suppression change a feedback event asks for, if any.

    SendGrid: `unsubscribe`/`group_unsubscribe`, `group_resubscribe`, `spamreport`, `bounce`
    (not a `blocked: ...` reason, which is about our IP). Twilio: the inbound keywords (`stop`,
    `start` and their synonyms, as the feedback service names them) and `undelivered`/`failed`
    with error 30005/30006 (no such mobile number) or 21610 (the number sent STOP).
    """
    kind = kind.strip().lower()
    if provider == "sendgrid":
        return _sendgrid(kind, at, reason, address)
    if provider == "twilio":
        return _twilio(kind, at, reason, address)
    return None


def _sendgrid(kind: str, at: datetime, reason: str | None, address: str | None) -> Change | None:
    if kind in ("unsubscribe", "group_unsubscribe"):
        return Change(Channel.EMAIL, Block.UNSUBSCRIBED, at)
    if kind == "group_resubscribe":
        return Change(Channel.EMAIL, Block.UNSUBSCRIBED, at, lift=True)
    if kind == "spamreport":
        return Change(Channel.EMAIL, Block.SPAM_COMPLAINT, at)
    if kind == "bounce" and not (reason or "").startswith("blocked:"):
        return Change(Channel.EMAIL, Block.HARD_BOUNCE, at, address=address)
    return None


def _twilio(kind: str, at: datetime, reason: str | None, address: str | None) -> Change | None:
    if kind in STOP_WORDS:
        return Change(Channel.SMS, Block.SMS_STOP, at)
    if kind in START_WORDS:
        return Change(Channel.SMS, Block.SMS_STOP, at, lift=True)
    code = (reason or "").rsplit(" ", 1)[-1]
    if kind in ("undelivered", "failed") and code in _SMS_DEAD_NUMBER:
        return Change(Channel.SMS, Block.HARD_BOUNCE, at, address=address)
    if kind in ("undelivered", "failed") and code == _SMS_OPTED_OUT:
        return Change(Channel.SMS, Block.SMS_STOP, at)
    return None
