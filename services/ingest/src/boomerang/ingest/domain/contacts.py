"""Contact details and preferences, normalised so every downstream service sees one form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any
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


def present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def normalise_email(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise Rejected("invalid_email", "email must be a string", field)
    try:
        # Deliverability (DNS) is the provider's business; here only the syntax is checked.
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise Rejected("invalid_email", f"not a valid email address: {exc}", field) from None


def normalise_phone(value: Any, field: str, default_region: str) -> str:
    """E.164 ("+12025550143"); numbers without a country code are read in `default_region`."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise Rejected("invalid_phone", "phone must be a string", field)
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException as exc:
        raise Rejected("invalid_phone", f"not a phone number: {exc}", field) from None
    if not phonenumbers.is_valid_number(number):
        raise Rejected("invalid_phone", "not a valid phone number", field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def valid_timezone(value: Any, field: str) -> str:
    if isinstance(value, str):
        try:
            ZoneInfo(value)
            return value
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise Rejected("invalid_timezone", "timezone must be an IANA name like Europe/Amsterdam", field)


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
    """A marketing consent as given: yes or no, where the shop collected it, and when."""

    subscribed: bool
    source: str
    at: datetime


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
