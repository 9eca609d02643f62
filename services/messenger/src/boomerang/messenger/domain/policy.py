"""Who gets which step of a flow: pure decisions from the contact card and the trigger event.

The handlers no longer use `decide`: every step, the receipt's included, goes through the full
send-time policy in `domain.sending` (suppression list, channel fallback, holdout, send windows
and quiet hours, frequency caps with priorities), which uses the reason strings defined here.
"""

from __future__ import annotations

from dataclasses import dataclass

from boomerang.messenger.domain.contacts import Contact, normalize_email, normalize_phone
from boomerang.messenger.domain.flows import Channel, Flow, Purpose, Step


@dataclass(frozen=True)
class Send:
    step: Step
    to: str


@dataclass(frozen=True)
class Suppress:
    step: Step
    reason: str


Decision = Send | Suppress

NO_ADDRESS = "no_address"
NO_CONSENT = "no_consent"


def decide(
    flow: Flow, contact: Contact | None, trigger_email: str | None, trigger_phone: str | None
) -> list[Decision]:
    """One decision per step that applies; optional steps without an address are left out."""
    decisions: list[Decision] = []
    for step in flow.steps:
        decision = _decide_step(flow, step, contact, trigger_email, trigger_phone)
        if decision is not None:
            decisions.append(decision)
    return decisions


def _decide_step(
    flow: Flow, step: Step, contact: Contact | None, trigger_email: str | None, trigger_phone: str | None
) -> Decision | None:
    if step.channel is Channel.EMAIL:
        to = (contact.email if contact else None) or normalize_email(trigger_email)
        consented = flow.purpose is Purpose.TRANSACTIONAL or bool(contact and contact.email_consent)
    else:
        to = (contact.phone if contact else None) or normalize_phone(trigger_phone)
        consented = bool(contact and contact.sms_consent)
    if to is None:
        return None if step.optional else Suppress(step, NO_ADDRESS)
    if not consented:
        return Suppress(step, NO_CONSENT)
    return Send(step, to)
