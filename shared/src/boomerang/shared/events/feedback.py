"""What came back from providers and customers: payloads on `feedback.events.v1`.

Consumers must expect types they do not know yet on this topic (feedback grows new kinds of
answers) and skip them rather than treat them as poison.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from boomerang.shared.events.envelope import Event


class ProviderEventReceived(Event):
    """A delivery outcome or engagement reported by SendGrid or Twilio.

    `kind` is the provider's own name: SendGrid's event (`processed`, `delivered`, `bounce`,
    `open`, `click`, `unsubscribe`, ...) or Twilio's message status (`sent`, `delivered`,
    `undelivered`, ...); an inbound SMS is `stop`, `start` or `help` (its keyword; consent, not
    interest) or else `reply`. An unsubscribe through our own signed link is `unsubscribe` with
    `provider` naming the channel's provider (`sendgrid`: email, `twilio`: SMS) and `reason`
    starting `unsubscribe link`.
    """

    event_type = "feedback.provider_event.received"

    provider: str
    provider_event_id: str
    kind: str
    occurred_at: AwareDatetime
    message_id: str | None = None
    provider_message_id: str | None = None
    reason: str | None = None
    url: str | None = None


class SurveyAnswered(Event):
    """A customer answered a survey: NPS or CSAT after a delivery, why they stopped buying (a
    lapsed customer's churn reason), on the survey page behind a signed link or by replying to
    an SMS.

    `survey` names it (`nps`, `csat`, `churn_reason`, or a store's own); `score` is the number
    chosen, if the survey asks for one (NPS 0-10, CSAT 1-5); `answer` the text typed or the
    option picked (the customer's own words: keep it out of logs and metric labels);
    `message_id` the message that carried the survey link or question, if any.
    """

    event_type = "feedback.survey.answered"

    survey: str = Field(min_length=1, max_length=64)
    score: int | None = Field(default=None, ge=0, le=10)
    answer: str | None = Field(default=None, max_length=2000)
    message_id: str | None = None
    answered_at: AwareDatetime
    channel: Literal["web", "sms"] = "web"
