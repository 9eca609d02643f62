"""SendGrid v3 Mail Send: the checks SendGrid applies to a request body, and its messages.

Pure: no I/O, no clock. Messages and fields follow SendGrid's documented 400 errors for the
common cases; rarer rules (attachments, ASM groups, send_at windows) are not checked.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from boomerang.sandbox.outbox import OutboxMessage

HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message.{}"
_EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+$")


@dataclass(frozen=True)
class MailError:
    message: str
    field: str | None
    help: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"message": self.message, "field": self.field, "help": self.help}


def is_email(value: object) -> bool:
    return isinstance(value, str) and bool(_EMAIL.match(value))


def validate_mail(body: Any) -> list[MailError]:
    """Every problem SendGrid would report for this body; empty when it would accept it."""
    if not isinstance(body, dict):
        return [MailError("Bad Request", None)]
    uses_template = isinstance(body.get("template_id"), str) and bool(body["template_id"])
    return [
        *_personalization_errors(body, uses_template),
        *_from_errors(body.get("from")),
        *_reply_to_errors(body.get("reply_to")),
        *_content_errors(body.get("content"), uses_template),
        *_string_map_errors(body.get("headers"), "headers"),
        *_string_map_errors(body.get("custom_args"), "custom_args"),
        *_category_errors(body.get("categories")),
    ]


def _personalization_errors(body: dict[str, Any], uses_template: bool) -> list[MailError]:
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        return [
            MailError(
                "The personalizations field is required and must have at least one personalization.",
                "personalizations",
                HELP.format("personalizations"),
            )
        ]
    if len(personalizations) > 1000:
        return [
            MailError(
                "The personalization block is limited to 1000 personalizations per API request."
                f" You have provided {len(personalizations)} personalizations. Please consider"
                " splitting this into multiple requests and resending your request.",
                "personalizations",
                HELP.format("personalizations"),
            )
        ]
    needs_subject = not uses_template and not _has_subject(body.get("subject"))
    errors: list[MailError] = []
    for index, personalization in enumerate(personalizations):
        errors += _one_personalization_errors(personalization, f"personalizations.{index}")
    if needs_subject and not all(_has_subject(_get(p, "subject")) for p in personalizations):
        errors.append(
            MailError(
                "The subject is required. You can get around this requirement if you use a"
                " template with a subject defined or if every personalization has a subject"
                " defined.",
                "subject",
                HELP.format("subject"),
            )
        )
    return errors


def _one_personalization_errors(personalization: Any, where: str) -> list[MailError]:
    if not isinstance(personalization, dict):
        return [MailError("Invalid type. Expected: object.", where, HELP.format("personalizations"))]
    to = personalization.get("to")
    if not isinstance(to, list) or not to:
        return [
            MailError(
                "The to array is required for all personalization objects, and must have at"
                " least one email object with a valid email address.",
                f"{where}.to",
                HELP.format("personalizations.to"),
            )
        ]
    errors: list[MailError] = []
    for kind in ("to", "cc", "bcc"):
        addresses = personalization.get(kind) or []
        if not isinstance(addresses, list):
            errors.append(MailError("Invalid type. Expected: array.", f"{where}.{kind}", None))
            continue
        for index, address in enumerate(addresses):
            if not is_email(_get(address, "email")):
                errors.append(
                    MailError(
                        "Does not contain a valid address.",
                        f"{where}.{kind}.{index}.email",
                        HELP.format(f"personalizations.{kind}"),
                    )
                )
    errors += _string_map_errors(personalization.get("headers"), f"{where}.headers")
    errors += _string_map_errors(personalization.get("custom_args"), f"{where}.custom_args")
    return errors


def _from_errors(sender: Any) -> list[MailError]:
    if isinstance(sender, dict) and "email" in sender and not is_email(sender["email"]):
        return [
            MailError("The from email does not contain a valid address.", "from.email", HELP.format("from"))
        ]
    if not isinstance(sender, dict) or not is_email(sender.get("email")):
        return [
            MailError(
                "The from object must be provided for every email send. It is an object that"
                " requires the email parameter, but may also contain a name parameter.  e.g."
                ' {"email" : "example@example.com"}  or {"email" : "example@example.com",'
                ' "name" : "Example Recipient"}.',
                "from.email",
                HELP.format("from"),
            )
        ]
    return []


def _reply_to_errors(reply_to: Any) -> list[MailError]:
    if reply_to is None or is_email(_get(reply_to, "email")):
        return []
    return [
        MailError(
            "The reply_to email does not contain a valid address.", "reply_to.email", HELP.format("reply_to")
        )
    ]


def _content_errors(content: Any, uses_template: bool) -> list[MailError]:
    if content is None and uses_template:
        return []
    if not isinstance(content, list) or not content:
        return [
            MailError(
                "Unless a valid template_id is provided, the content parameter is required."
                " There must be at least one defined content block. We typically suggest both"
                " text/plain and text/html blocks are included, but only one block is required.",
                "content",
                HELP.format("content"),
            )
        ]
    errors: list[MailError] = []
    for index, block in enumerate(content):
        if not isinstance(_get(block, "type"), str) or not block["type"]:
            errors.append(
                MailError(
                    "The content type must be a string at least one character in length.",
                    f"content.{index}.type",
                    HELP.format("content.type"),
                )
            )
        if not isinstance(_get(block, "value"), str) or not block["value"]:
            errors.append(
                MailError(
                    "The content value must be a string at least one character in length.",
                    f"content.{index}.value",
                    HELP.format("content.value"),
                )
            )
    return errors or _content_order_errors(content)


def _content_order_errors(content: list[dict[str, str]]) -> list[MailError]:
    # SendGrid builds the MIME alternatives in order, so it insists on plain, then html.
    types = [block["type"].lower() for block in content]
    rank = {"text/plain": 0, "text/html": 1}
    ranks = [rank.get(t, 2) for t in types]
    if ranks == sorted(ranks):
        return []
    return [
        MailError(
            "If present, text/plain must be first, followed by text/html, followed by any other content.",
            "content",
            HELP.format("content"),
        )
    ]


def _string_map_errors(value: Any, where: str) -> list[MailError]:
    if value is None:
        return []
    if not isinstance(value, dict):
        return [MailError(f"Invalid type. Expected: object, given: {_json_type(value)}.", where, None)]
    return [
        MailError(f"Invalid type. Expected: string, given: {_json_type(v)}.", f"{where}.{k}", None)
        for k, v in value.items()
        if not isinstance(v, str)
    ]


def _category_errors(categories: Any) -> list[MailError]:
    if categories is None:
        return []
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        return [
            MailError(
                "The categories parameter must be an array of strings.",
                "categories",
                HELP.format("categories"),
            )
        ]
    if len(categories) > 10:
        return [
            MailError(
                "Too many categories. You can send at most 10 categories.",
                "categories",
                HELP.format("categories"),
            )
        ]
    return []


def messages_from_mail(body: dict[str, Any], x_message_id: str, received_at: datetime) -> list[OutboxMessage]:
    """One outbox message per personalization of an already validated body."""
    return [
        _message(body, personalization, f"{x_message_id}.sandbox.{index}.0", x_message_id, received_at)
        for index, personalization in enumerate(body["personalizations"])
    ]


def _message(
    body: dict[str, Any], p: dict[str, Any], msg_id: str, x_message_id: str, received_at: datetime
) -> OutboxMessage:
    parts = {block["type"].lower(): block["value"] for block in body.get("content") or []}
    return OutboxMessage(
        id=msg_id,
        provider="sendgrid",
        to=[a["email"] for a in p["to"]],
        cc=[a["email"] for a in p.get("cc") or []],
        bcc=[a["email"] for a in p.get("bcc") or []],
        from_=body["from"]["email"],
        reply_to=(body.get("reply_to") or {}).get("email"),
        subject=p.get("subject") or body.get("subject"),
        text=parts.get("text/plain"),
        html=parts.get("text/html"),
        # Personalization-level values win, as in SendGrid.
        headers={**(body.get("headers") or {}), **(p.get("headers") or {})},
        custom_args={**(body.get("custom_args") or {}), **(p.get("custom_args") or {})},
        categories=list(body.get("categories") or []),
        x_message_id=x_message_id,
        received_at=received_at,
    )


def _has_subject(subject: Any) -> bool:
    return isinstance(subject, str) and bool(subject)


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "integer" if isinstance(value, int) else "number"
    if value is None:
        return "null"
    names: dict[type, str] = {dict: "object", list: "array", str: "string"}
    return names.get(type(value), "unknown")
