"""SendGrid Email Activity (`GET /v3/messages`): its query language, for the common conditions.

Supported: `field = "value"` and `field != "value"` joined by AND, optionally in parentheses,
where field is to_email, from_email, subject, msg_id, status or unique_args['key'] (SendGrid's
name for custom_args). Pure: no I/O.
"""

import re
from dataclasses import dataclass
from typing import Any

from boomerang.sandbox.outbox import OutboxMessage

# The sandbox delivers every accepted mail at once.
STATUS = "delivered"

_CONDITION = re.compile(
    r"""^\s*(?P<field>unique_args\[\s*'(?P<arg>[^']+)'\s*\]|[a-z_]+)\s*
         (?P<op>!=|=)\s*"(?P<value>(?:[^"\\]|\\.)*)"\s*$""",
    re.VERBOSE,
)
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)
_FIELDS = {"to_email", "from_email", "subject", "msg_id", "status"}


class InvalidQuery(ValueError):
    pass


@dataclass(frozen=True)
class Condition:
    field: str  # a row field, or "unique_args" with `arg` set
    value: str
    negated: bool = False
    arg: str | None = None

    def holds(self, message: OutboxMessage) -> bool:
        actual = _field_value(message, self.field, self.arg)
        return (actual == self.value) != self.negated


def parse_query(query: str) -> list[Condition]:
    """The conditions of `query`, all of which must hold; raises InvalidQuery otherwise."""
    if not query.strip():
        return []
    return [_parse_condition(part) for part in _AND.split(query)]


def _parse_condition(text: str) -> Condition:
    match = _CONDITION.match(text.strip().strip("()"))
    if match is None:
        raise InvalidQuery(f"invalid query condition: {text.strip()}")
    field, arg = match["field"], match["arg"]
    if arg is not None:
        field = "unique_args"
    elif field not in _FIELDS:
        raise InvalidQuery(f"unsupported query field: {field}")
    value = re.sub(r"\\(.)", r"\1", match["value"])
    return Condition(field=field, value=value, negated=match["op"] == "!=", arg=arg)


def _field_value(message: OutboxMessage, field: str, arg: str | None) -> str | None:
    if field == "unique_args":
        return message.custom_args.get(arg or "")
    value: str | None = activity_row(message)[field]
    return value


def search(messages: list[OutboxMessage], conditions: list[Condition], limit: int) -> list[dict[str, Any]]:
    """Activity rows for SendGrid messages matching every condition, in the given order."""
    rows = [
        activity_row(m) for m in messages if m.provider == "sendgrid" and all(c.holds(m) for c in conditions)
    ]
    return rows[:limit]


def activity_row(message: OutboxMessage) -> dict[str, Any]:
    return {
        "from_email": message.from_,
        "msg_id": message.id,
        "subject": message.subject,
        "to_email": message.to[0],
        "status": STATUS,
        "opens_count": 0,
        "clicks_count": 0,
        "last_event_time": message.received_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
