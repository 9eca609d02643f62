"""Twilio Message resources (API 2010-04-01) rebuilt from the outbox, and their paged lists.

Pure: no I/O, no clock.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

from boomerang.sandbox.outbox import OutboxMessage
from boomerang.sandbox.twilio_rules import TwilioError, num_segments

API_VERSION = "2010-04-01"


def message_from_form(
    form: dict[str, str], account_sid: str, sid: str, received_at: datetime
) -> OutboxMessage:
    """The outbox record of an accepted Create Message form; the resource is rebuilt from it."""
    body = form.get("Body", "")
    return OutboxMessage(
        id=sid,
        provider="twilio",
        to=[form["To"]],
        from_=form.get("From") or None,
        text=body,
        account_sid=account_sid,
        messaging_service_sid=form.get("MessagingServiceSid") or None,
        status_callback=form.get("StatusCallback") or None,
        num_segments=num_segments(body),
        received_at=received_at,
    )


def message_uri(account_sid: str, sid: str) -> str:
    return f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}.json"


def message_resource(message: OutboxMessage, just_created: bool = False) -> dict[str, Any]:
    """The Message resource; freshly created ones are queued, later reads show delivery."""
    created = format_datetime(message.received_at)
    service = message.messaging_service_sid
    queued_status = "accepted" if service and not message.from_ else "queued"
    account_sid = message.account_sid or ""
    return {
        "account_sid": account_sid,
        "api_version": API_VERSION,
        "body": message.text,
        "date_created": created,
        "date_sent": None if just_created else created,
        "date_updated": created,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": message.from_,
        "messaging_service_sid": service,
        "num_media": "0",
        "num_segments": str(message.num_segments or 1),
        "price": None,
        "price_unit": "USD",
        "sid": message.id,
        "status": queued_status if just_created else "delivered",
        "subresource_uris": {
            "media": f"/{API_VERSION}/Accounts/{account_sid}/Messages/{message.id}/Media.json"
        },
        "to": message.to[0],
        "uri": message_uri(account_sid, message.id),
    }


@dataclass(frozen=True)
class ListQuery:
    to: str | None = None
    from_: str | None = None
    date_sent: str | None = None
    date_sent_before: str | None = None
    date_sent_after: str | None = None
    page: int = 0
    page_size: int = 50

    @classmethod
    def from_params(cls, params: dict[str, str]) -> "ListQuery":
        try:
            page, page_size = int(params.get("Page", 0)), int(params.get("PageSize", 50))
        except ValueError:
            raise TwilioError(20001, "Page and PageSize must be integers") from None
        return cls(
            to=params.get("To"),
            from_=params.get("From"),
            date_sent=params.get("DateSent"),
            date_sent_before=params.get("DateSent<"),
            date_sent_after=params.get("DateSent>"),
            page=max(page, 0),
            page_size=min(max(page_size, 1), 1000),
        )

    def selects(self, message: OutboxMessage) -> bool:
        sent = message.received_at
        return (
            (self.to is None or self.to in message.to)
            and (self.from_ is None or self.from_ == message.from_)
            and (self.date_sent is None or _day(self.date_sent) == sent.date())
            and (self.date_sent_before is None or _on_or_before(sent, self.date_sent_before))
            and (self.date_sent_after is None or _on_or_after(sent, self.date_sent_after))
        )

    def filters(self) -> dict[str, str]:
        pairs = {
            "To": self.to,
            "From": self.from_,
            "DateSent": self.date_sent,
            "DateSent<": self.date_sent_before,
            "DateSent>": self.date_sent_after,
        }
        return {k: v for k, v in pairs.items() if v is not None}


def message_page(account_sid: str, messages: list[OutboxMessage], query: ListQuery) -> dict[str, Any]:
    """Twilio's paging envelope over the selected messages (newest first, as Twilio lists)."""
    selected = [m for m in messages if m.account_sid == account_sid and query.selects(m)]
    start = query.page * query.page_size
    page = selected[start : start + query.page_size]
    base = f"/{API_VERSION}/Accounts/{account_sid}/Messages.json"

    def page_uri(number: int) -> str:
        return f"{base}?{urlencode({**query.filters(), 'PageSize': query.page_size, 'Page': number})}"

    has_next = start + query.page_size < len(selected)
    return {
        "messages": [message_resource(m) for m in page],
        "page": query.page,
        "page_size": query.page_size,
        "start": start,
        "end": start + max(len(page) - 1, 0),
        "uri": page_uri(query.page),
        "first_page_uri": page_uri(0),
        "next_page_uri": page_uri(query.page + 1) if has_next else None,
        "previous_page_uri": page_uri(query.page - 1) if query.page > 0 else None,
    }


def _parse_moment(value: str) -> datetime | date:
    """Twilio takes YYYY-MM-DD or, from the SDK, YYYY-MM-DDTHH:MM:SSZ."""
    try:
        if "T" not in value:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise TwilioError(20001, f"Invalid date: {value}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _day(value: str) -> date:
    moment = _parse_moment(value)
    return moment.date() if isinstance(moment, datetime) else moment


def _on_or_before(sent: datetime, bound: str) -> bool:
    moment = _parse_moment(bound)
    return sent <= moment if isinstance(moment, datetime) else sent.date() <= moment


def _on_or_after(sent: datetime, bound: str) -> bool:
    moment = _parse_moment(bound)
    return sent >= moment if isinstance(moment, datetime) else sent.date() >= moment


def status_callback_params(message: OutboxMessage, status: str) -> dict[str, str]:
    params = {
        "AccountSid": message.account_sid or "",
        "ApiVersion": API_VERSION,
        "From": message.from_ or "",
        "MessageSid": message.id,
        "MessageStatus": status,
        "SmsSid": message.id,
        "SmsStatus": status,
        "To": message.to[0],
    }
    if message.messaging_service_sid:
        params["MessagingServiceSid"] = message.messaging_service_sid
    return params
