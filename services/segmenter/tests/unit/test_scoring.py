"""The customer-scoring models: published CDNOW parameters, RFM, p(alive), lapse score, JSON."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from boomerang.segmenter.domain import scoring
from boomerang.segmenter.domain.scoring import bgnbd, clv, gamma_gamma, rfm
from boomerang.segmenter.domain.scoring.model import ScoringConfig, State

SAMPLE = Path(__file__).resolve().parents[4] / "data" / "cdnow" / "CDNOW_sample.txt"
EPOCH = date(1997, 1, 1).toordinal()
CAL_END = float(date(1997, 9, 30).toordinal() - EPOCH)  # 39 weeks after 1997-01-01


def _load_sample() -> scoring.Transactions:
    ids, days, amounts = [], [], []
    for line in SAMPLE.read_text().splitlines():
        cols = line.split()  # original id, sample id, YYYYMMDD, CDs, dollars
        if len(cols) < 5:
            continue
        ymd = cols[2]
        ids.append(int(cols[0]))
        days.append(date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:8])).toordinal() - EPOCH)
        amounts.append(float(cols[4]))
    _, index = np.unique(ids, return_inverse=True)
    return scoring.Transactions.of(index, days, amounts)


@pytest.fixture(scope="module")
def sample() -> scoring.Transactions:
    return _load_sample()


@pytest.fixture(scope="module")
def summary(sample: scoring.Transactions) -> scoring.Summary:
    return scoring.summarise(sample, CAL_END)


@pytest.fixture(scope="module")
def model(sample: scoring.Transactions) -> scoring.ScoringModel:
    return scoring.fit(sample, CAL_END)


def _close(fitted: dict[str, float], published: dict[str, float], tolerance: float = 0.01) -> None:
    for name, value in published.items():
        assert fitted[name] == pytest.approx(value, rel=tolerance), name


# --- published parameters (1/10 sample, 39-week calibration) ----------------------------------


def test_sample_has_the_published_cohort(summary: scoring.Summary) -> None:
    assert len(summary) == 2357
    assert int((summary.x > 0).sum()) == 1054 - 108  # 946 repeat buyers, the Gamma-Gamma note's count


def test_bgnbd_fit_reproduces_fader_hardie_lee_2005(summary: scoring.Summary) -> None:
    fit = bgnbd.fit(summary.x, summary.t_x, summary.T)
    assert fit.converged
    _close(fit.params.to_dict(), {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.1)


def test_gamma_gamma_fit_reproduces_fader_hardie_2013(summary: scoring.Summary) -> None:
    fit = gamma_gamma.fit(summary.x, summary.repeat_mean)
    assert fit.customers == 946
    _close(fit.params.to_dict(), {"p": 6.25, "q": 3.74, "gamma": 15.44})


def test_bgnbd_conditional_expectation_matches_the_paper() -> None:
    # FHL 2005: x=2, t_x=30.43, T=38.86 is expected to make 1.226 purchases in the next 39 weeks.
    params = bgnbd.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    assert float(bgnbd.expected_purchases(params, 39.0, 2, 30.43, 38.86)) == pytest.approx(1.226, abs=0.001)


def test_bgnbd_gradient_is_the_derivative_of_the_likelihood() -> None:
    x = np.array([0.0, 1.0, 2.0, 5.0, 0.0])
    t_x = np.array([0.0, 3.0, 10.5, 20.0, 0.0])
    T = np.array([30.0, 25.0, 38.0, 21.0, 12.0])
    w = np.array([1.0, 2.0, 1.0, 1.0, 3.0])
    theta = np.log([0.3, 5.0, 0.8, 2.5])
    _, grad = bgnbd._neg_ll_and_grad(theta, x, t_x, T, w)
    numeric = approx_fprime(theta, lambda th: bgnbd._neg_ll_and_grad(th, x, t_x, T, w)[0], 1e-7)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-7)


# --- one-time buyers ----------------------------------------------------------------------------


def test_p_alive_is_exactly_one_for_every_one_time_buyer(model: scoring.ScoringModel, summary: scoring.Summary) -> None:
    p_alive = bgnbd.probability_alive(model.bgnbd, summary.x, summary.t_x, summary.T)
    once = summary.x == 0
    assert once.sum() > 1000
    assert np.all(p_alive[once] == 1.0)
    assert np.all(p_alive[~once] < 1.0)


def test_lapse_score_of_one_time_buyers_rises_with_time_since_their_order(model: scoring.ScoringModel) -> None:
    now = 400.0
    scores = [model.score_customer([now - weeks * 7], [30.0], now) for weeks in (1, 8, 26, 52, 104)]
    lapse = [s.lapse_score for s in scores if s is not None]
    assert all(s.p_alive == 1.0 for s in scores if s is not None)  # BG/NBD alone cannot tell them apart
    assert all(b > a for a, b in zip(lapse, lapse[1:], strict=False))
    assert lapse[0] < 0.9 < lapse[-1]
    assert scores[-1] is not None and scores[-1].state == State.LAPSED


def test_a_repeat_buyer_gone_quiet_outscores_a_regular_one(model: scoring.ScoringModel) -> None:
    now = 300.0
    regular = model.score_customer([60, 120, 180, 240, 290], [20] * 5, now)
    quiet = model.score_customer([60, 70, 80, 90, 100], [20] * 5, now)
    assert regular is not None and quiet is not None
    assert quiet.lapse_score > regular.lapse_score
    assert quiet.p_alive < regular.p_alive
    assert regular.expected_orders_365d > quiet.expected_orders_365d


# --- RFM and CLV ----------------------------------------------------------------------------------


def test_rfm_edges_are_population_quintiles_applied_per_customer() -> None:
    values = np.arange(1.0, 101.0)
    edges = rfm.RfmEdges.of(recency=values, frequency=values, monetary=values)
    assert edges.frequency == pytest.approx((20.8, 40.6, 60.4, 80.2))
    r, f, m = rfm.scores(edges, recency=[1, 30, 99], frequency=[1, 30, 99], monetary=[20.8, 20.9, 1000])
    assert list(r) == [5, 4, 1]  # recent is good
    assert list(f) == [1, 2, 5]
    assert list(m) == [1, 2, 5]  # a value equal to an edge takes the lower score


def test_rfm_ties_put_every_one_order_customer_in_the_lowest_frequency() -> None:
    orders = np.array([1.0] * 70 + [2.0] * 20 + [5.0] * 10)
    edges = rfm.RfmEdges.of(recency=orders, frequency=orders, monetary=orders)
    _, f, _ = rfm.scores(edges, recency=[0, 0, 0], frequency=[1, 2, 5], monetary=[1, 1, 1])
    assert list(f) == [1, 4, 5]
    assert edges == rfm.RfmEdges.from_dict(json.loads(json.dumps(edges.to_dict())))


def test_historic_clv_is_aov_times_frequency_times_lifetime() -> None:
    # two years of tenure, 4 orders averaging 50: 2 orders a year, 3-year lifetime
    assert clv.historic([50.0], [4.0], [2 * clv.WEEKS_PER_YEAR], 3.0)[0] == pytest.approx(300.0)
    # tenure below a year counts as a year: one order yesterday is one order a year
    assert clv.historic([50.0], [1.0], [1 / 7], 3.0)[0] == pytest.approx(150.0)


def test_discounting_lowers_predicted_clv(sample: scoring.Transactions, summary: scoring.Summary) -> None:
    plain = scoring.fit(sample, CAL_END)
    discounted = scoring.fit(sample, CAL_END, ScoringConfig(annual_discount_rate=0.10))
    a, b = plain.predicted_clv(summary), discounted.predicted_clv(summary)
    assert np.all(b <= a) and np.all(b >= a / 1.10 - 1e-9)


# --- the model object --------------------------------------------------------------------------


def test_scores_are_in_range(model: scoring.ScoringModel, summary: scoring.Summary) -> None:
    s = model.score(summary)
    assert len(s) == len(summary)
    for col in (s.recency_score, s.frequency_score, s.monetary_score):
        assert col.min() >= 1 and col.max() <= 5
    assert np.all((s.lapse_score > 0) & (s.lapse_score < 1))
    assert np.all((s.p_alive > 0) & (s.p_alive <= 1))
    assert np.all(s.expected_orders_365d >= s.expected_orders_90d)
    assert np.all(s.predicted_clv_365d >= 0) and np.all(s.next_order_day > CAL_END)
    assert set(s.state) <= {State.NEW, State.ACTIVE, State.VIP, State.AT_RISK, State.LAPSED}
    assert 0.05 < np.mean(s.state == State.VIP) <= 0.10  # vip: top 10% by predicted CLV, unless at risk


def test_model_round_trips_through_json(model: scoring.ScoringModel, summary: scoring.Summary) -> None:
    text = model.to_json()
    data = json.loads(text)
    assert data["kind"] == scoring.MODEL_KIND and data["version"] == scoring.MODEL_VERSION
    assert set(data["lapse"]) == set(scoring.model.LAPSE_FEATURES)
    again = scoring.ScoringModel.from_json(text)
    assert again == model
    a, b = model.score(summary), again.score(summary)
    np.testing.assert_array_equal(a.lapse_score, b.lapse_score)
    np.testing.assert_array_equal(a.predicted_clv_365d, b.predicted_clv_365d)


def test_an_unknown_model_version_is_refused(model: scoring.ScoringModel) -> None:
    data = model.to_dict() | {"version": scoring.MODEL_VERSION + 1}
    with pytest.raises(ValueError, match="version"):
        scoring.ScoringModel.from_dict(data)


def test_one_customer_scores_as_in_the_batch(model: scoring.ScoringModel, sample: scoring.Transactions, summary: scoring.Summary) -> None:
    batch = model.score(summary)
    i = int(np.argmax(summary.x))
    rows = (sample.customer == summary.index[i]) & (sample.day <= CAL_END)
    one = model.score_customer(sample.day[rows], sample.amount[rows], CAL_END)
    assert one is not None
    assert one == batch.row(i)
    assert model.score_customer([], [], CAL_END) is None


def test_fit_sees_nothing_after_now(sample: scoring.Transactions) -> None:
    later = scoring.Transactions.of(
        np.concatenate([sample.customer, [0, 1, 2]]),
        np.concatenate([sample.day, [CAL_END + 1, CAL_END + 2, CAL_END + 100]]),
        np.concatenate([sample.amount, [10.0, 20.0, 30.0]]),
    )
    assert scoring.fit(later, CAL_END) == scoring.fit(sample, CAL_END)


def _with_another_holdout(tx: scoring.Transactions, now: float, seed: int) -> scoring.Transactions:
    """The same history up to `now`, a different future: every later purchase moved to another
    customer, day and amount, plus many new ones (some by customers unseen before)."""
    rng = np.random.default_rng(seed)
    past = tx.day <= now
    n_later = int((~past).sum()) + 3000
    n = tx.n_customers
    return scoring.Transactions.of(
        np.concatenate([tx.customer[past], rng.integers(0, n + 50, n_later)]),
        np.concatenate([tx.day[past], rng.uniform(now + 1.0, now + 400.0, n_later)]),
        np.concatenate([tx.amount[past], rng.lognormal(3.0, 1.0, n_later)]),
    )


def test_the_holdout_cannot_change_the_fit_nor_the_design_choices(sample: scoring.Transactions, summary: scoring.Summary) -> None:
    base = scoring.fit(sample, CAL_END)
    assert base.diagnostics["selected"] and base.diagnostics["validation"]["lapse_log_loss"]
    for seed in (1, 2):
        other = scoring.fit(_with_another_holdout(sample, CAL_END, seed), CAL_END)
        # bit-identical: every coefficient, every validation score, every selected choice
        assert other.to_json() == base.to_json()
        assert other.diagnostics["selected"] == base.diagnostics["selected"]
        a, b = base.score(summary), other.score(summary)
        for name in ("lapse_score", "expected_orders_365d", "predicted_clv_365d", "p_alive"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        np.testing.assert_array_equal(base.expected_orders(summary, 39.0), other.expected_orders(summary, 39.0))


def test_design_choices_are_selected_by_validation_inside_the_history(model: scoring.ScoringModel) -> None:
    c, d = model.config, model.diagnostics
    v = d["validation_window_weeks"]
    assert v == 13.0  # 39 weeks of history: a third
    windows = {v}
    chosen = d["selected"]
    assert chosen["lapse_window_weeks"] in windows and chosen["dormancy_window_weeks"] in windows
    assert chosen["lapse_feature_set"] in c.lapse_feature_sets
    assert chosen["dormancy_prior_customers"] in c.dormancy_prior_candidates
    lapse_losses = d["validation"]["lapse_log_loss"]
    dormancy_losses = d["validation"]["dormancy_deviance"]
    assert len(lapse_losses) == len(windows) * len(c.lapse_feature_sets)
    assert len(dormancy_losses) == len(windows) * len(c.dormancy_feature_sets) * len(c.dormancy_prior_candidates)
    best = f"{chosen['lapse_window_weeks']:g}/{chosen['lapse_feature_set']}"
    assert lapse_losses[best] == min(lapse_losses.values())
    best = f"{chosen['dormancy_window_weeks']:g}/{chosen['dormancy_feature_set']}/{chosen['dormancy_prior_customers']:g}"
    assert dormancy_losses[best] == min(dormancy_losses.values())
    assert model.inner_window_weeks == chosen["lapse_window_weeks"]
    # features left out by the chosen set have no weight
    used = set(scoring.model.LAPSE_FEATURE_SETS[chosen["lapse_feature_set"]])
    assert all(b == 0.0 for i, b in enumerate(model.lapse) if i not in used)


def test_the_inner_window_can_be_selected_too(sample: scoring.Transactions) -> None:
    m = scoring.fit(sample, CAL_END, ScoringConfig(inner_window_candidates=(6.0, 13.0)))
    losses = m.diagnostics["validation"]["lapse_log_loss"]
    assert {k.split("/")[0] for k in losses} == {"6", "13"}
    assert m.diagnostics["selected"]["lapse_window_weeks"] in (6.0, 13.0)
    assert m.inner_window_weeks == m.diagnostics["selected"]["lapse_window_weeks"]


def test_a_single_candidate_fixes_each_choice(sample: scoring.Transactions) -> None:
    config = ScoringConfig(inner_window_candidates=(13.0,), lapse_feature_sets=("bgnbd",), dormancy_prior_candidates=(100.0,))
    m = scoring.fit(sample, CAL_END, config)
    assert m.diagnostics["selected"] == {
        "lapse_window_weeks": 13.0,
        "lapse_feature_set": "bgnbd",
        "dormancy_window_weeks": 13.0,
        "dormancy_feature_set": "p_gone",
        "dormancy_prior_customers": 100.0,
    }
    assert m.lapse[2:] == (0.0,) * (len(m.lapse) - 2)
    assert scoring.ScoringModel.from_json(m.to_json()) == m


def test_same_day_purchases_are_one_transaction() -> None:
    tx = scoring.Transactions.of([0, 0, 0, 1], [3.2, 3.7, 10.0, 5.0], [10.0, 5.0, 7.0, 1.0])
    assert list(tx.customer) == [0, 0, 1]
    assert list(tx.day) == [3.0, 10.0, 5.0]
    assert list(tx.amount) == [15.0, 7.0, 1.0]
    s = scoring.summarise(tx, 14.0)
    assert list(s.x) == [1.0, 0.0]
    assert list(s.repeat_mean) == [7.0, 0.0]
    assert s.t_x[0] == pytest.approx(1.0)
    assert s.T[0] == pytest.approx(11 / 7)


def test_a_short_history_falls_back_to_bgnbd_for_the_lapse_score(sample: scoring.Transactions) -> None:
    m = scoring.fit(sample, CAL_END, ScoringConfig(min_customers_to_learn=10**9))
    assert m.dormancy == (0.0, 0.0, 0.0)
    s = scoring.summarise(sample, CAL_END)
    expected = bgnbd.probability_no_purchase(m.bgnbd, 13.0, s.x, s.t_x, s.T)
    np.testing.assert_allclose(m.lapse_score(s, 13.0), expected, rtol=1e-6)
