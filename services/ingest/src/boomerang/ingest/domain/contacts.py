"""Contact details, preferences and currencies, normalised so every downstream service sees one
form whichever entrypoint (Segment, Shopify, native) they came through."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from boomerang.ingest.domain.messages import sane_time
from boomerang.ingest.domain.rejections import Rejected

_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
_TRUE = {"true", "yes", "1", "subscribed", "opted_in"}
_FALSE = {"false", "no", "0", "unsubscribed", "not_subscribed", "opted_out"}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
OLDEST_BIRTHDAY = date(1900, 1, 1)
DEFAULT_CONSENT_SOURCE = "segment"
DEFAULT_CURRENCY = "USD"  # the E-commerce spec's default
T = TypeVar("T")


def present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def first_present(candidates: Iterable[tuple[Any, str]], read: Callable[[Any, str], T]) -> T | None:
    """The first present value of (value, field) pairs, read with its field; None if none is.

    Only that one is read: a bad value further down the list is not the shop's error.
    """
    for value, field in candidates:
        if present(value):
            return read(value, field)
    return None


def normalise_email(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise Rejected("invalid_email", "email must be a string", field)
    try:
        return _normalised_email(value.strip())
    except EmailNotValidError as exc:
        raise Rejected("invalid_email", f"not a valid email address: {exc}", field) from None


@functools.lru_cache(maxsize=20_000)
def _normalised_email(text: str) -> str:
    """Memoised: customers come back, and this check (IDNA rules on every label of the domain) was
    a sixth of the CPU of ingesting a batch. Invalid addresses raise, and are not cached."""
    # Deliverability (DNS) is the provider's business; here only the syntax is checked.
    return validate_email(text, check_deliverability=False).normalized


def normalise_phone(value: Any, field: str, default_region: str) -> str:
    """E.164 ("+12025550143"); numbers without a country code are read in `default_region`."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise Rejected("invalid_phone", "phone must be a string", field)
    try:
        e164 = _e164(value, default_region)
    except phonenumbers.NumberParseException as exc:
        raise Rejected("invalid_phone", f"not a phone number: {exc}", field) from None
    if e164 is None:
        raise Rejected("invalid_phone", "not a valid phone number", field)
    return e164


@functools.lru_cache(maxsize=20_000)
def _e164(text: str, default_region: str) -> str | None:
    """Memoised like `_normalised_email`; None for a number that parses but is not valid."""
    number = phonenumbers.parse(text, default_region)
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def valid_timezone(value: Any, field: str) -> str:
    # The longest IANA name is 32 characters; a long one would reach the file system (OSError).
    if isinstance(value, str) and len(value) <= 64:
        try:
            ZoneInfo(value)
            return value
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise Rejected("invalid_timezone", "timezone must be an IANA name like Europe/Amsterdam", field)


def currency_code(value: str, field: str) -> str:
    """An ISO 4217 code, upper-cased."""
    if len(value) != 3 or not value.isascii() or not value.isalpha():
        raise Rejected("invalid_currency", "currency must be an ISO 4217 code like USD", field)
    return value.upper()


def valid_locale(value: Any, field: str) -> str:
    if isinstance(value, str) and _LOCALE.match(value):
        return value.replace("_", "-")
    raise Rejected("invalid_locale", "locale must be a language tag like en-US", field)


def consent(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (str, int)) and str(value).strip().lower() in _TRUE | _FALSE:
        return str(value).strip().lower() in _TRUE
    raise Rejected("invalid_consent", "consent must be true or false", field)


def birthday(value: Any, field: str, latest: date) -> date:
    """An ISO date ("1990-05-17"), or an ISO datetime whose calendar date is taken as written.

    A birthday is a date in the customer's life, not an instant: "1990-05-17T00:00:00-05:00" is
    the 17th, not the 17th at 05:00 UTC. Dates after `latest` (today) or before 1900 are refused.
    """
    if not isinstance(value, str) or not _ISO_DATE.match(value.strip()):
        raise Rejected("invalid_birthday", "birthday must be an ISO date like 1990-05-17", field)
    text = value.strip()
    try:
        day = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text).date()
    except ValueError:
        raise Rejected("invalid_birthday", "birthday must be an ISO date like 1990-05-17", field) from None
    if not OLDEST_BIRTHDAY <= day <= latest:
        raise Rejected("invalid_birthday", f"birthday must lie between 1900 and {latest}", field)
    return day


@dataclass(frozen=True)
class Consent:
    """A marketing consent as given: yes or no, where the shop collected it, and when (if known)."""

    subscribed: bool
    source: str
    at: datetime | None


def consent_fields(*, email: Consent | None, sms: Consent | None) -> dict[str, Any]:
    """`CustomerIdentified`'s consent fields; None (nothing said) for a consent not given."""
    fields: dict[str, Any] = {}
    for channel, consent in (("email", email), ("sms", sms)):
        fields[f"{channel}_marketing_consent"] = consent.subscribed if consent else None
        fields[f"{channel}_marketing_consent_source"] = consent.source if consent else None
        fields[f"{channel}_marketing_consent_at"] = consent.at if consent else None
    return fields


def consent_of(
    value: Any, field: str, *, source: Any, at: Any, source_field: str, at_field: str, event_time: datetime
) -> Consent:
    """Read a consent from its flag form (with separate source/time traits) or its object form.

    Object form: `{"subscribed": true, "source": "checkout", "at": "2025-03-01T10:00:00Z"}`.
    Without a source the consent came through Segment; without a time, it was given when the
    event happened.
    """
    if isinstance(value, dict):
        if not present(value.get("subscribed")):
            raise Rejected("missing_field", "a consent object needs subscribed", f"{field}.subscribed")
        subscribed = consent(value["subscribed"], f"{field}.subscribed")
        source, source_field = value.get("source"), f"{field}.source"
        at, at_field = value.get("at"), f"{field}.at"
    else:
        subscribed = consent(value, field)
    return Consent(
        subscribed=subscribed,
        source=consent_source(source, source_field) if present(source) else DEFAULT_CONSENT_SOURCE,
        at=instant(at, at_field) if present(at) else event_time,
    )


def consent_source(value: Any, field: str) -> str:
    if not isinstance(value, str) or len(value.strip()) > 100:
        raise Rejected("invalid_consent", "consent source must be a string of at most 100 characters", field)
    return value.strip()


def instant(value: Any, field: str) -> datetime:
    """An ISO 8601 date-time; without an offset it is UTC, as Segment reads timestamps."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
            if sane_time(moment):
                return moment
    raise Rejected(
        "invalid_timestamp", "must be an ISO 8601 date-time like 2025-03-01T10:00:00Z, 1970 to 2100", field
    )
