"""Unsubscribes and survey answers that come through the signed links in our messages.

A verified link (shared/links.py) plus what the customer did becomes a ProviderEvent, stored
once like a provider's, and published as:

- an unsubscribe: `ProviderEventReceived(kind="unsubscribe")` whose `provider` is the channel's
  provider (`sendgrid` for email, `twilio` for SMS), because consumers (the messenger's
  suppression list first) read the channel from the provider; `reason` says it came from our
  link, not from the provider.
- a survey answer: `SurveyAnswered`.

Each is kept once per link (store, customer, channel, message and survey): a second click on the
same unsubscribe link, or a second answer to the same survey, changes nothing (first answer wins,
so a message's score never moves after it was counted).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from boomerang.feedback.domain import sendgrid, twilio
from boomerang.feedback.domain.errors import InvalidPayload, InvalidSignature
from boomerang.feedback.domain.model import Attribution, ProviderEvent
from boomerang.shared import links
from boomerang.shared.events import ProviderEventReceived, SurveyAnswered

UNSUBSCRIBE = "unsubscribe_link"  # the stored event's provider: where it came from
SURVEY = "survey"
PROVIDER_OF_CHANNEL = {"email": sendgrid.PROVIDER, "sms": twilio.PROVIDER}
UNSUBSCRIBE_WAYS = ("one_click", "page")
_LIMITS = {"s": 64, "c": 256, "m": 255}


@dataclass(frozen=True)
class Survey:
    kind: str
    question: str
    scores: range | None = None  # None: no score, pick an option instead
    options: tuple[tuple[str, str], ...] = ()  # (value, label)


SURVEYS = {
    "nps": Survey("nps", "How likely are you to recommend us to a friend?", scores=range(0, 11)),
    "csat": Survey("csat", "How satisfied are you with your order?", scores=range(1, 6)),
    "churn_reason": Survey(
        "churn_reason",
        "We have not seen you in a while. What made you stop shopping with us?",
        options=(
            ("too_expensive", "Prices are too high"),
            ("found_elsewhere", "I buy it somewhere else now"),
            ("quality", "I was not happy with the products"),
            ("delivery", "Delivery or returns were a hassle"),
            ("no_need", "I do not need these products any more"),
            ("other", "Something else"),
        ),
    ),
}
KINDS = frozenset(SURVEYS) | {"unsubscribe"}
MAX_COMMENT = 1000


def verified(purpose: str, params: Mapping[str, str], keys: Iterable[bytes]) -> links.SignedLink:
    """The link these parameters describe if we signed it: 400 when incomplete, 403 when forged."""
    try:
        link = links.verify(purpose, params, keys)
    except links.MissingLinkParameter as exc:
        raise InvalidPayload(str(exc), code="invalid_link", field=exc.param) from None
    except links.InvalidLink as exc:
        raise InvalidSignature(str(exc), field=exc.param) from None
    if link.channel not in PROVIDER_OF_CHANNEL:
        raise InvalidPayload("the link's channel is neither email nor sms", code="invalid_field", field="ch")
    for param, value in (("s", link.store_id), ("c", link.customer_id), ("m", link.message_id)):
        if len(value) > _LIMITS[param]:
            raise InvalidPayload(f"{param} is longer than {_LIMITS[param]}", code="invalid_field", field=param)
    if purpose == links.SURVEY and link.survey not in SURVEYS:
        raise InvalidPayload(f"unknown survey {link.survey!r}", code="invalid_field", field=links.SURVEY_PARAM)
    return link


def link_ref(link: links.SignedLink) -> str:
    """One id per link: what makes a second click or answer a duplicate."""
    return hashlib.sha256(link.payload()).hexdigest()


def unsubscribe_event(link: links.SignedLink, *, way: str, received_at: datetime) -> ProviderEvent:
    raw = {**_ids(link), "way": way}
    return ProviderEvent(UNSUBSCRIBE, link_ref(link), "unsubscribe", raw, received_at)


def survey_answer(survey: Survey, form: Mapping[str, str]) -> tuple[int | None, str | None]:
    """(score, answer) from the page's form: a score in the survey's range, or one of its options;
    an optional comment. The answer is the customer's own words: never log it."""
    comment = (form.get("comment") or "").strip() or None
    if comment and len(comment) > MAX_COMMENT:
        raise InvalidPayload(f"the comment is longer than {MAX_COMMENT}", code="invalid_field", field="comment")
    if survey.scores is not None:
        raw = (form.get("score") or "").strip()
        if not raw:
            raise InvalidPayload("pick a score", code="missing_field", field="score")
        if not raw.isascii() or not raw.isdigit() or int(raw) not in survey.scores:
            first, last = survey.scores[0], survey.scores[-1]
            raise InvalidPayload(f"the score must be {first} to {last}", code="invalid_field", field="score")
        return int(raw), comment
    option = (form.get("reason") or "").strip()
    if option not in dict(survey.options):
        raise InvalidPayload("pick one of the reasons", code="invalid_field", field="reason")
    return None, f"{option}: {comment}" if comment else option


def survey_event(
    link: links.SignedLink, score: int | None, answer: str | None, *, received_at: datetime
) -> ProviderEvent:
    raw = {**_ids(link), "survey": link.survey, "score": score, "answer": answer}
    return ProviderEvent(SURVEY, link_ref(link), link.survey or "", raw, received_at)


def unsubscribed(event: ProviderEvent) -> tuple[ProviderEventReceived, Attribution]:
    raw = event.raw
    payload = ProviderEventReceived(
        provider=PROVIDER_OF_CHANNEL[raw["channel"]],
        provider_event_id=f"{UNSUBSCRIBE}:{event.provider_event_id}",
        kind="unsubscribe",
        occurred_at=event.received_at,
        message_id=raw["message_id"],
        reason=f"unsubscribe link ({raw['way']})",
    )
    return payload, Attribution(raw["store_id"], raw["customer_id"], attributed=True)


def answered(event: ProviderEvent) -> tuple[SurveyAnswered, Attribution]:
    raw = event.raw
    payload = SurveyAnswered(
        survey=raw["survey"],
        score=raw["score"],
        answer=raw["answer"],
        message_id=raw["message_id"],
        answered_at=event.received_at,
        channel="web",
    )
    return payload, Attribution(raw["store_id"], raw["customer_id"], attributed=True)


def _ids(link: links.SignedLink) -> dict[str, Any]:
    return {
        "store_id": link.store_id,
        "customer_id": link.customer_id,
        "channel": link.channel,
        "message_id": link.message_id,
    }
