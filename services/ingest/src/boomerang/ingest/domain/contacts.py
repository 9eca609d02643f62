"""Contact details and preferences, normalised so every downstream service sees one form."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from boomerang.ingest.domain.rejections import Rejected

_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
_TRUE = {"true", "yes", "1", "subscribed", "opted_in"}
_FALSE = {"false", "no", "0", "unsubscribed", "opted_out"}


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
