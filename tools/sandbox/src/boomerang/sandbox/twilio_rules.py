"""What Twilio checks in a Create Message request, and how it counts SMS segments.

Pure. Errors carry Twilio's codes so clients can branch on them; the magic `To` numbers of
Twilio's test credentials fail the same way here.
"""

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

MAX_BODY = 1600
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_SHORT_CODE = re.compile(r"^\d{5,6}$")
_ALPHANUMERIC_ID = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
_MESSAGING_SERVICE = re.compile(r"^MG[0-9a-fA-F]{32}$")

_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = set("^{}\\[~]|€\f")

# Twilio's test-credential numbers that fail on purpose: To number -> (code, message).
MAGIC_TO_FAILURES = {
    "+15005550001": (21211, "The 'To' number +15005550001 is not a valid phone number."),
    "+15005550002": (
        21612,
        "The 'To' phone number: +15005550002, is not currently reachable using the 'From' phone"
        " number via SMS.",
    ),
    "+15005550003": (
        21408,
        "Permission to send an SMS has not been enabled for the region indicated by the 'To'"
        " number: +15005550003.",
    ),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}


@dataclass
class TwilioError(Exception):
    code: int
    message: str
    status: int = 400

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


def check_message_request(form: dict[str, str]) -> None:
    """Raise the TwilioError that Twilio answers for this Create Message form, if any."""
    to, sender = form.get("To", ""), form.get("From", "")
    service = form.get("MessagingServiceSid", "")
    if not to:
        raise TwilioError(21604, "A 'To' phone number is required.")
    if not _E164.match(to):
        raise TwilioError(21211, f"The 'To' number {to} is not a valid phone number.")
    if not sender and not service:
        raise TwilioError(21603, "A 'From' phone number is required.")
    if sender and not is_sender(sender):
        raise TwilioError(
            21212,
            f"The 'From' number {sender} is not a valid phone number, shortcode, or alphanumeric sender ID.",
        )
    if service and not _MESSAGING_SERVICE.match(service):
        raise TwilioError(21701, f"The Messaging Service Sid {service} is invalid.")
    if sender == to:
        raise TwilioError(21266, "'To' and 'From' number cannot be the same")
    _check_body(form)
    _check_callback(form.get("StatusCallback"))
    if to in MAGIC_TO_FAILURES:
        raise TwilioError(*MAGIC_TO_FAILURES[to])


def _check_body(form: dict[str, str]) -> None:
    body = form.get("Body", "")
    if not body and not form.get("MediaUrl") and not form.get("ContentSid"):
        raise TwilioError(21602, "Message body is required.")
    if len(body) > MAX_BODY:
        raise TwilioError(21617, "The concatenated message body exceeds the 1600 character limit.")


def _check_callback(url: str | None) -> None:
    if url is None:
        return
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise TwilioError(21609, f"The StatusCallback URL {url} is not a valid URL.")


def is_sender(value: str) -> bool:
    return bool(_E164.match(value) or _SHORT_CODE.match(value) or _ALPHANUMERIC_ID.match(value))


def num_segments(body: str) -> int:
    """SMS parts the body needs: GSM-7 packs 160 (153 when split), UCS-2 70 (67)."""
    if not body:
        return 1
    if set(body) <= _GSM7 | _GSM7_EXTENSION:
        septets = len(body) + sum(1 for c in body if c in _GSM7_EXTENSION)
        return 1 if septets <= 160 else -(-septets // 153)
    # UCS-2 counts UTF-16 code units, so an emoji takes two.
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else -(-units // 67)
