"""Fitting a store's model on customer states, applying it to one, and publishing the scores."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from boomerang.segmenter.adapters.models import StoreModels
from boomerang.segmenter.adapters.policy_files import default_policy
from boomerang.segmenter.domain import CustomerState, SegmentPolicy
from boomerang.segmenter.domain.facts import observe
from boomerang.segmenter.domain.scorecard import (
    StoreModel,
    adoption,
    day_of,
    fit_store,
    score_card,
    score_cards,
    score_cards_each,
)
from boomerang.segmenter.service_layer.ports import SourceRecord
from boomerang.segmenter.service_layer.segmentation import Segmentation
from boomerang.shared.events import CustomerScored, Envelope, OrderPlaced, PageViewed

NOW = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)


def base(n: int = 40, seed: int = 1) -> list[CustomerState]:
    rng = random.Random(seed)
    states = []
    for c in range(n):
        state = CustomerState("store-1", f"c{c}")
        for k in range(rng.randint(1, 5)):
            at = NOW - timedelta(days=rng.uniform(1, 300))
            state = observe(state, OrderPlaced(order_id=f"o{c}-{k}", placed_at=at, total=Decimal(rng.randint(10, 200))), at)
        states.append(state)
    return states


@pytest.fixture(scope="module")
def store_model() -> StoreModel:
    model = fit_store("store-1", base(), NOW, min_customers=20)
    assert model is not None
    return model


def test_too_few_customers_get_no_model():
    assert fit_store("store-1", base(10), NOW, min_customers=20) is None


def test_the_model_round_trips_through_json(store_model):
    again = StoreModel.from_json(store_model.to_json())
    assert again.model_id == store_model.model_id and again.customers == 40
    assert again.model.fitted_at == pytest.approx(day_of(NOW))


def test_a_customer_card_has_scores_a_percentile_and_a_standing(store_model):
    card = score_card(base()[3], store_model, NOW)
    assert card is not None
    assert 1 <= card.scores.recency_score <= 5 and 0 <= card.clv_percentile <= 100
    assert card.standing.clv_percentile == card.clv_percentile
    assert card.standing.rfm_total is not None


def test_no_card_without_an_order(store_model):
    assert score_card(CustomerState("store-1", "nobody"), store_model, NOW) is None


def test_scoring_many_at_once_gives_each_customer_their_own_card(store_model):
    states = [CustomerState("store-1", "nobody"), *base(), CustomerState("store-1", "nobody-else")]
    cards = score_cards(states, store_model, NOW)
    assert cards[0] is None and cards[-1] is None
    for state, card in zip(states[1:-1], cards[1:-1], strict=True):
        one = score_card(state, store_model, NOW)
        assert card is not None and one is not None
        assert card.clv_percentile == one.clv_percentile
        for field, value in vars(one.scores).items():  # equal up to float summation order
            assert getattr(card.scores, field) == (value if isinstance(value, (int, str)) else pytest.approx(value, rel=1e-9)), field


def test_a_shop_of_steady_buyers_gets_consistent_expectations():
    # Everyone buys at one rate: the likelihood runs towards a Poisson with no dropout, where
    # unbounded parameters made 90-day expectations exceed 365-day ones.
    states = base(500)
    model = fit_store("store-1", states, NOW, min_customers=20)
    assert model is not None
    cards = [c for c in score_cards(states, model, NOW) if c is not None]
    assert len(cards) == 500
    for card in cards:
        s = card.scores
        assert 0 <= s.expected_orders_90d <= s.expected_orders_365d < 20
        assert 0 <= s.predicted_clv_365d < 20 * 200


def test_a_refit_that_moves_nobody_is_not_adopted(store_model):
    states = base()
    assert adoption(None, store_model, states, NOW, refresh_days=7, moved_share=0.01).reason == "first_model"
    # The same parameters fitted an hour later. (Refitting this small, nearly Poisson shop an hour
    # later lands elsewhere on a flat likelihood ridge, by how far depending on the CPU's floating
    # point: one machine moved nobody, another 14 of the 40 customers.)
    same = replace(store_model, model=replace(store_model.model, fitted_at=store_model.model.fitted_at + 1 / 24))
    verdict = adoption(store_model, same, states, NOW, refresh_days=7, moved_share=0.01)
    assert (verdict.adopt, verdict.reason, verdict.moved) == (False, "standings_unchanged", 0)
    later = fit_store("store-1", states, NOW + timedelta(days=8), min_customers=20)
    assert adoption(store_model, later, states, NOW, refresh_days=7, moved_share=0.01).reason == "refresh_due"


def test_a_refit_on_a_changed_population_is_adopted(store_model):
    # Twice the customers, each new one spending ten times as much: the old RFM edges and CLV
    # percentiles no longer describe the store.
    rich = [
        observe(CustomerState("store-1", f"r{c}"), OrderPlaced(order_id=f"r{c}", placed_at=NOW - timedelta(days=c % 30), total=Decimal(2000)), NOW)
        for c in range(40)
    ]
    states = base() + rich
    refit = fit_store("store-1", states, NOW, min_customers=20)
    verdict = adoption(store_model, refit, states, NOW, refresh_days=7, moved_share=0.01)
    assert verdict.adopt and verdict.reason == "standings_moved" and verdict.moved >= 8


def test_scoring_many_each_at_its_own_time_matches_scoring_one_by_one(store_model):
    rng = random.Random(7)
    states = base(60, seed=2)
    asked = [(state, NOW - timedelta(days=rng.uniform(0, 200))) for state in states]
    asked += [(CustomerState("store-1", "nobody"), NOW), (states[0], NOW - timedelta(days=400))]  # no order by then
    cards = score_cards_each(asked, store_model)
    assert cards[-2] is None and cards[-1] is None
    assert sum(card is not None for card in cards) > 40
    for (state, at), card in zip(asked, cards, strict=True):
        assert card == score_card(state, store_model, at)


class _States:
    def __init__(self) -> None:
        self.rows: dict[str, CustomerState] = {}

    def get(self, key: str) -> CustomerState | None:
        return self.rows.get(key)

    def put(self, key: str, state: CustomerState) -> None:
        self.rows[key] = state


class _Topics:
    def __init__(self) -> None:
        self.published: list[Envelope] = []

    async def publish(self, envelopes: list[Envelope]) -> None:
        self.published += envelopes

    async def publish_scores(self, envelopes: list[Envelope]) -> None:
        self.published += envelopes

    async def dead_letter(self, record: SourceRecord, reason: str, error: str) -> None:
        raise AssertionError(f"dead-lettered: {reason} {error}")


def _shop_batches() -> list[list[SourceRecord]]:
    """Three batches of orders and page views from 15 customers, several per customer per batch,
    one message delivered twice."""
    rng = random.Random(11)
    envelopes = []
    for n in range(15):
        at = NOW - timedelta(days=rng.uniform(100, 300))
        for k in range(rng.randint(1, 4)):
            wrap = dict(store_id="store-1", customer_id=f"c{n}", source="test")
            envelopes.append(Envelope.wrap(PageViewed(name="Home", url="https://s.example/", path="/"), time=at - timedelta(minutes=5), **wrap))
            envelopes.append(Envelope.wrap(OrderPlaced(order_id=f"o{n}-{k}", placed_at=at, total=Decimal(rng.randint(10, 200))), time=at, **wrap))
            at += timedelta(days=rng.uniform(5, 60))
    envelopes.sort(key=lambda e: e.time)
    envelopes.insert(len(envelopes) // 2, envelopes[3])
    records = [SourceRecord("commerce.events.v1", 0, n, e.key.encode(), e.to_bytes()) for n, e in enumerate(envelopes)]
    third = len(records) // 3 + 1
    return [records[i : i + third] for i in range(0, len(records), third)]


async def test_batches_scored_ahead_in_one_pass_do_exactly_what_scoring_each_step_does(store_model):
    models = StoreModels()
    models.put(store_model)
    single_calls: list[datetime] = []
    bulk_calls: list[int] = []

    def counted_score(state: CustomerState, at: datetime):
        single_calls.append(at)
        return models.score(state, at)

    def counted_score_many(asked):
        bulk_calls.append(len(asked))
        return models.score_many(asked)

    batches, runs = _shop_batches(), []
    for bulk in (False, True):
        states, topics = _States(), _Topics()
        segmentation = Segmentation(
            states=states, events=topics, policy=SegmentPolicy(), lifecycle_policies=lambda store_id: default_policy(),
            clock=lambda: NOW, scorer=counted_score, score_many=counted_score_many if bulk else None,
        )
        single_calls.clear()
        for batch in batches:
            await segmentation.handle_batch(batch)
        await segmentation.sweep_batch([(key, NOW + timedelta(days=40)) for key in sorted(states.rows)])  # time alone
        runs.append((states.rows, [e.model_dump() for e in topics.published], len(single_calls)))
    (rows, published, alone), (bulk_rows, bulk_published, bulk_alone) = runs
    assert bulk_rows == rows and bulk_published == published
    assert any(e["type"] == CustomerScored.event_type for e in published) and alone > 30
    # every card the steps and the sweep asked for was foreseen and scored in the batch's one pass
    assert len(bulk_calls) == 4 and bulk_alone == 0
