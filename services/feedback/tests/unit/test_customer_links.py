"""Signed links into events: verification, survey answers, and what is published."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest

from boomerang.feedback.domain import customer_links
from boomerang.feedback.domain.envelopes import envelope_for
from boomerang.feedback.domain.errors import InvalidPayload, InvalidSignature
from boomerang.shared import links
from boomerang.shared.events import ProviderEventReceived, SurveyAnswered

KEY = b"unit-link-key"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def params(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def unsubscribe_params(channel: str = "email", customer: str = "cust-42") -> dict[str, str]:
    return params(links.unsubscribe_url("https://fb", KEY, "store-1", customer, channel, "m-1"))


def survey_params(survey: str = "nps") -> dict[str, str]:
    return params(links.survey_url("https://fb", KEY, "store-1", "cust-42", "email", "m-1", survey=survey))


def test_a_forged_link_is_403_and_an_incomplete_one_400_naming_the_parameter() -> None:
    with pytest.raises(InvalidSignature) as forged:
        customer_links.verified(links.UNSUBSCRIBE, unsubscribe_params() | {"c": "someone-else"}, [KEY])
    assert (forged.value.status_code, forged.value.field) == (403, "sig")

    incomplete = {k: v for k, v in unsubscribe_params().items() if k != "m"}
    with pytest.raises(InvalidPayload) as missing:
        customer_links.verified(links.UNSUBSCRIBE, incomplete, [KEY])
    assert (missing.value.status_code, missing.value.code, missing.value.field) == (400, "invalid_link", "m")

    # A survey link does not unsubscribe.
    with pytest.raises(InvalidSignature):
        customer_links.verified(links.UNSUBSCRIBE, survey_params(), [KEY])


def test_a_signed_link_for_an_unknown_channel_or_survey_is_refused() -> None:
    odd_channel = params(links.unsubscribe_url("https://fb", KEY, "s", "c", "fax", "m"))
    with pytest.raises(InvalidPayload) as channel:
        customer_links.verified(links.UNSUBSCRIBE, odd_channel, [KEY])
    assert channel.value.field == "ch"
    with pytest.raises(InvalidPayload) as survey:
        customer_links.verified(links.SURVEY, survey_params("mood"), [KEY])
    assert survey.value.field == "k"


@pytest.mark.parametrize(("channel", "provider"), [("email", "sendgrid"), ("sms", "twilio")])
def test_an_unsubscribe_is_published_as_the_channels_provider_would(channel: str, provider: str) -> None:
    link = customer_links.verified(links.UNSUBSCRIBE, unsubscribe_params(channel), [KEY])
    event = customer_links.unsubscribe_event(link, way="one_click", received_at=NOW)

    envelope, attribution = envelope_for(event)
    payload = envelope.event()
    assert isinstance(payload, ProviderEventReceived)
    assert (payload.provider, payload.kind, payload.message_id) == (provider, "unsubscribe", "m-1")
    assert payload.reason == "unsubscribe link (one_click)"
    assert envelope.key == "store-1:cust-42" and attribution.attributed
    assert envelope.time == NOW
    # The same link, clicked again from the page, is the same event (stored once).
    again = customer_links.unsubscribe_event(link, way="page", received_at=NOW)
    assert (again.provider, again.provider_event_id) == (event.provider, event.provider_event_id)
    other = customer_links.verified(links.UNSUBSCRIBE, unsubscribe_params(channel, "cust-7"), [KEY])
    assert customer_links.link_ref(other) != event.provider_event_id


@pytest.mark.parametrize(
    ("survey", "form", "expected"),
    [
        ("nps", {"score": "0"}, (0, None)),
        ("nps", {"score": "10", "comment": "  fast delivery "}, (10, "fast delivery")),
        ("csat", {"score": "5"}, (5, None)),
        ("churn_reason", {"reason": "too_expensive"}, (None, "too_expensive")),
        ("churn_reason", {"reason": "other", "comment": "moved abroad"}, (None, "other: moved abroad")),
    ],
)
def test_survey_answers_are_read_from_the_form(survey, form, expected) -> None:
    assert customer_links.survey_answer(customer_links.SURVEYS[survey], form) == expected


@pytest.mark.parametrize(
    ("survey", "form", "field"),
    [
        ("nps", {}, "score"),
        ("nps", {"score": "11"}, "score"),
        ("nps", {"score": "-1"}, "score"),
        ("csat", {"score": "0"}, "score"),
        ("csat", {"score": "٣"}, "score"),  # a digit, but not an ASCII one
        ("churn_reason", {"reason": "bored"}, "reason"),
        ("nps", {"score": "9", "comment": "x" * 1001}, "comment"),
    ],
)
def test_answers_outside_the_survey_are_400_with_the_field(survey, form, field) -> None:
    with pytest.raises(InvalidPayload) as refused:
        customer_links.survey_answer(customer_links.SURVEYS[survey], form)
    assert refused.value.field == field


def test_a_survey_answer_is_published_as_survey_answered() -> None:
    link = customer_links.verified(links.SURVEY, survey_params("csat"), [KEY])
    event = customer_links.survey_event(link, 4, "good", received_at=NOW)

    envelope, _ = envelope_for(event)
    payload = envelope.event()
    assert isinstance(payload, SurveyAnswered)
    assert (payload.survey, payload.score, payload.answer, payload.message_id) == ("csat", 4, "good", "m-1")
    assert (payload.answered_at, payload.channel, envelope.key) == (NOW, "web", "store-1:cust-42")
    # One event per message and survey: a second answer is a duplicate of the first.
    assert customer_links.survey_event(link, 1, None, received_at=NOW).provider_event_id == event.provider_event_id
