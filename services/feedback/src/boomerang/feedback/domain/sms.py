"""Inbound SMS (Twilio's incoming message webhook): keywords, the customer behind a number, TwiML.

Published as `ProviderEventReceived(provider="twilio")` with `kind`:
`stop` (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, OPTOUT, REVOKE), `start` (START, YES,
UNSTOP), `help` (HELP, INFO), or `reply` for anything else. The keyword is the whole message,
any case, as carriers match it; Twilio's own `OptOutType` (Advanced Opt-Out) wins when present.
The text itself is never published: it is the customer's own words.

Which customer: an inbound message names only phone numbers. Status callbacks for our outbound
SMS carry the store, customer and message ids (in the StatusCallback URL) next to `To` (the
customer's number) and `From` (ours); feedback remembers the latest pair for each (customer
number, our number) and looks the inbound `From`/`To` up in it. Unknown numbers are published
unattributed, keyed by the inbound MessageSid (never by the number); Twilio blocks further
messages to a number that sent STOP anyway (error 21610), which the messenger reads as a STOP.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from boomerang.feedback.domain import twilio
from boomerang.feedback.domain.errors import InvalidPayload
from boomerang.feedback.domain.model import Attribution, ProviderEvent, attribute
from boomerang.shared.events import ProviderEventReceived
from boomerang.shared.events.attribution import MessageAttribution

PROVIDER = "twilio_inbound"  # the stored event's provider; published as "twilio"
STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke"})
START_WORDS = frozenset({"start", "yes", "unstop"})
HELP_WORDS = frozenset({"help", "info"})
KINDS = frozenset({"stop", "start", "help", "reply"})
_OPT_OUT_TYPES = {"STOP": "stop", "START": "start", "HELP": "help"}


@dataclass(frozen=True)
class Recipient:
    """Who we last sent an SMS to at a number, from one of our numbers."""

    store_id: str
    customer_id: str
    message_id: str | None


def keyword_kind(body: str, opt_out_type: str | None = None) -> str:
    if opt_out_type and opt_out_type.upper() in _OPT_OUT_TYPES:
        return _OPT_OUT_TYPES[opt_out_type.upper()]
    word = body.strip().strip(".!").casefold()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in HELP_WORDS:
        return "help"
    return "reply"


def number_pair_key(customer_number: str, our_number: str) -> str:
    """What the recipient table is keyed by: a digest, so the key column holds no number."""
    pair = f"{_normalised(customer_number)}|{_normalised(our_number)}"
    return hashlib.sha256(pair.encode("utf-8")).hexdigest()


def recipient_of_status(form: dict[str, str], query: dict[str, str]) -> tuple[str, Recipient] | None:
    """(key, recipient) that an outbound status callback teaches us, if it carries our ids."""
    ids = MessageAttribution.from_args(query)
    to, sender = form.get("To"), form.get("From")
    if not (ids.store_id and ids.customer_id and to and sender):
        return None
    attribution = attribute(ids.store_id, ids.customer_id, fallback_ref="")
    if not attribution.attributed:
        return None
    return number_pair_key(to, sender), Recipient(ids.store_id, ids.customer_id, ids.message_id)


def inbound_event(
    form: list[tuple[str, str]], recipient: Recipient | None, *, received_at: datetime
) -> ProviderEvent:
    """The recipient found at intake goes into the stored event, so a re-publication says the same."""
    params = dict(form)
    sid = params.get("MessageSid") or params.get("SmsSid")
    if not sid or len(sid) > 64:
        raise InvalidPayload("MessageSid is required", code="missing_field", field="MessageSid")
    for name in ("From", "To"):
        if not params.get(name):
            raise InvalidPayload(f"{name} is required", code="missing_field", field=name)
    kind = keyword_kind(params.get("Body", ""), params.get("OptOutType"))
    raw: dict[str, Any] = {"form": params, "recipient": recipient.__dict__ if recipient else None}
    return ProviderEvent(PROVIDER, sid, kind, raw, received_at)


def customer_numbers(form: list[tuple[str, str]]) -> tuple[str, str]:
    """(customer's number, our number) of an inbound message."""
    params = dict(form)
    return params.get("From", ""), params.get("To", "")


def received(event: ProviderEvent) -> tuple[ProviderEventReceived, Attribution]:
    recipient = event.raw.get("recipient") or {}
    payload = ProviderEventReceived(
        provider=twilio.PROVIDER,
        provider_event_id=event.provider_event_id,
        kind=event.kind,
        occurred_at=event.received_at,
        message_id=recipient.get("message_id"),  # the last message we sent them: what they answer
        provider_message_id=event.provider_event_id,
    )
    attribution = attribute(
        recipient.get("store_id"),
        recipient.get("customer_id"),
        fallback_ref=f"{twilio.PROVIDER}:{event.provider_event_id}",
    )
    return payload, attribution


def twiml(message: str | None = None) -> str:
    """Twilio's answer: a message back (HELP), or nothing."""
    body = f"<Message>{escape(message)}</Message>" if message else ""
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>'


def _normalised(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit() or ch == "+")
