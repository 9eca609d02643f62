"""Fitting a store's model on customer states, applying it to one, and publishing the scores."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from boomerang.segmenter.adapters.models import StoreModels
from boomerang.segmenter.adapters.policy_files import default_policy
from boomerang.segmenter.domain import CustomerState, SegmentPolicy
from boomerang.segmenter.domain.facts import observe
from boomerang.segmenter.domain.scorecard import StoreModel, adoption, day_of, fit_store, score_card, score_cards
from boomerang.segmenter.service_layer.ports import SourceRecord
from boomerang.segmenter.service_layer.segmentation import Segmentation
from boomerang.shared.events import CustomerScored, Envelope, OrderPlaced

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
    same = fit_store("store-1", states, NOW + timedelta(hours=1), min_customers=20)
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
