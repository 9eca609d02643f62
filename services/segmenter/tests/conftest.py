"""Segmenter test helpers: envelopes built with shared's models, as ingest would publish them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from boomerang.shared.events import Envelope, OrderPlaced, PageViewed, ProviderEventReceived, SurveyAnswered

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


class Envelopes:
    """Builds commerce envelopes; ids are random unless given, like ingest's."""

    t0 = T0

    def order(
        self,
        total: str,
        *,
        store_id: str = "store-1",
        customer_id: str = "cust-1",
        placed_at: datetime = T0,
        id: str | None = None,
        order_id: str | None = None,
    ) -> Envelope:
        order_id = order_id or f"o-{placed_at.isoformat()}-{total}"
        event = OrderPlaced(order_id=order_id, placed_at=placed_at, total=Decimal(total))
        return Envelope.wrap(
            event,
            store_id=store_id,
            customer_id=customer_id,
            source="test",
            time=placed_at + timedelta(seconds=1),
            id=id,
        )

    def page_view(self, *, store_id: str = "store-1", customer_id: str = "cust-1", at: datetime = T0) -> Envelope:
        return Envelope.wrap(PageViewed(path="/"), store_id=store_id, customer_id=customer_id, source="test", time=at)

    def provider_event(
        self,
        kind: str = "click",
        *,
        store_id: str = "store-1",
        customer_id: str = "cust-1",
        at: datetime = T0,
        id: str | None = None,
    ) -> Envelope:
        """As feedback publishes a SendGrid event: a click, an open, a delivery, a bounce..."""
        event = ProviderEventReceived(
            provider="sendgrid", provider_event_id=f"sg-{kind}-{at.isoformat()}", kind=kind, occurred_at=at, message_id="m-1"
        )
        return Envelope.wrap(event, store_id=store_id, customer_id=customer_id, source="boomerang.feedback", time=at, id=id)

    def survey_answer(
        self, survey: str = "nps", score: int | None = 9, *, customer_id: str = "cust-1", at: datetime = T0
    ) -> Envelope:
        event = SurveyAnswered(survey=survey, score=score, answer="fast delivery", message_id="m-1", answered_at=at)
        return Envelope.wrap(event, store_id="store-1", customer_id=customer_id, source="boomerang.feedback", time=at)


@pytest.fixture
def envelopes() -> Envelopes:
    return Envelopes()
