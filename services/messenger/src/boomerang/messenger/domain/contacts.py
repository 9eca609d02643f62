"""A customer's contact card as the messenger knows it: where and whether we may write to them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email

from boomerang.shared.events import CustomerIdentified


@dataclass(frozen=True)
class Contact:
    store_id: str
    customer_id: str
    email: str | None = None
    phone: str | None = None  # E.164
    email_consent: bool | None = None  # None: never told; marketing needs an explicit True
    sms_consent: bool | None = None
    locale: str | None = None
    timezone: str | None = None
    first_name: str | None = None
    birthday: date | None = None  # the birthday flow's day (29 February: 28 February in common years)
    # "email" or "sms": the channel the customer asked to hear from us on, tried first where a
    # step offers it (trait `preferred_channel`); the others remain the fallback.
    preferred_channel: str | None = None


def identify(current: Contact | None, store_id: str, customer_id: str, event: CustomerIdentified) -> Contact:
    """The contact after an identify call: fields the shop did not send keep their value.

    Unusable values (a malformed address, an unknown time zone) are dropped rather than stored,
    so everything in a Contact can be used as is.
    """
    base = current or Contact(store_id=store_id, customer_id=customer_id)
    told = {
        "email": normalize_email(event.email),
        "phone": normalize_phone(event.phone),
        "email_consent": event.email_marketing_consent,
        "sms_consent": event.sms_marketing_consent,
        "locale": normalize_locale(event.locale),
        "timezone": normalize_timezone(event.timezone),
        "first_name": (event.first_name or "").strip() or None,
        "birthday": event.birthday,
        "preferred_channel": normalize_channel(event.traits.get("preferred_channel")),
    }
    return replace(base, **{k: v for k, v in told.items() if v is not None})


CHANNELS = ("email", "sms")
_CHANNEL_WORDS = {"text": "sms", "texts": "sms", "mail": "email", "e-mail": "email"}


def normalize_channel(value: object) -> str | None:
    """A trait's channel as "email" or "sms"; anything else (push, a typo) is not a preference."""
    if not isinstance(value, str):
        return None
    word = value.strip().casefold()
    word = _CHANNEL_WORDS.get(word, word)
    return word if word in CHANNELS else None


def normalize_email(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def normalize_phone(value: str | None) -> str | None:
    """E.164 or None; numbers without a country code cannot be placed, so they are refused."""
    if not value:
        return None
    try:
        number = phonenumbers.parse(value.strip(), None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_locale(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(Locale.parse(value.replace("-", "_")))
    except (ValueError, UnknownLocaleError):
        return None


def normalize_timezone(value: str | None) -> str | None:
    if not value:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return value
