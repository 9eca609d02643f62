"""The snapshot store on SQLite and PostgreSQL: upserts, idempotent transitions, the queries."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from boomerang.segmenter.adapters.snapshots import SqlSnapshots
from boomerang.segmenter.domain.snapshots import CustomerSnapshot, TransitionRecord
from boomerang.segmenter.migrations import upgrade
from boomerang.shared.db import make_engine

pytestmark = pytest.mark.integration
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(database_url: str):
    upgrade(database_url)
    engine = make_engine(database_url)
    yield SqlSnapshots(engine)
    engine.dispose()


def snap(customer: str, lifecycle: str | None = "active", tier: str = "regular", scores=None, store="s1", at=NOW):
    return CustomerSnapshot(store, customer, lifecycle, tier, {"orders": 1, "net_revenue": "10"}, scores, at, at)


def move(id: str, customer: str, to: str, frm: str | None, at: datetime, store: str = "s1", dim="lifecycle"):
    return TransitionRecord(id, store, customer, dim, frm, to, "because", "numbers", at)


def scores(r: int, f: int, m: int, clv: float, p_alive: float = 1.0, lapse: float = 0.5) -> dict:
    return {"model_id": "s1@1#abc", "recency_score": r, "frequency_score": f, "monetary_score": m,
            "historic_clv": clv / 2, "p_alive": p_alive, "lapse_score": lapse, "predicted_clv_365d": clv,
            "clv_percentile": 50.0}


def test_the_latest_snapshot_wins_and_reads_back_as_written(store):
    store.write([snap("c1", "new")], [])
    later = snap("c1", "active", "vip", scores(5, 4, 3, 120.5), at=NOW + timedelta(hours=1))
    store.write([later], [])
    view = store.customer("s1", "c1")
    assert view is not None and view.snapshot == later and view.transitions == []
    assert store.customer("s1", "nobody") is None and store.customer("s2", "c1") is None


def test_a_transition_is_stored_once_per_envelope_id(store):
    first = move("id-1", "c1", "new", None, NOW - timedelta(days=2))
    second = move("id-2", "c1", "active", "new", NOW - timedelta(hours=1))
    store.write([snap("c1")], [first, first])
    store.write([snap("c1")], [first, second])  # a redelivery re-records the first
    view = store.customer("s1", "c1")
    assert view is not None and view.transitions == [second, first]  # newest first
    assert store.customer("s1", "c1", history=1).transitions == [second]


def test_sizes_count_customers_per_stage_and_tier(store):
    store.write(
        [snap("c1", "new"), snap("c2", "new", "vip"), snap("c3", "lapsed"), snap("c4", None), snap("x", store="s2")],
        [],
    )
    assert store.sizes("s1") == ({"new": 2, "lapsed": 1, "none": 1}, {"regular": 3, "vip": 1})
    assert store.sizes("nope") == ({}, {})


def test_moves_are_the_transitions_that_took_effect_in_the_window(store):
    store.write(
        [],
        [
            move("a", "c1", "new", None, NOW - timedelta(days=8)),
            move("b", "c1", "active", "new", NOW - timedelta(days=3)),
            move("c", "c2", "at_risk", "active", NOW - timedelta(hours=2)),
            move("d", "c2", "lapsed", "at_risk", NOW + timedelta(hours=1)),  # after `until`
            move("e", "c3", "vip", None, NOW - timedelta(hours=1), store="s2"),
        ],
    )
    assert sorted(store.moves("s1", NOW - timedelta(days=7), NOW), key=str) == [("active", "at_risk"), ("new", "active")]
    assert store.moves("s1", NOW - timedelta(hours=24), NOW) == [("active", "at_risk")]


def test_score_columns_and_rfm_cells_of_scored_customers(store):
    store.write(
        [
            snap("c1", scores=scores(5, 5, 5, 300.0, 0.9, 0.1)),
            snap("c2", scores=scores(5, 5, 5, 100.0, 0.5, 0.4)),
            snap("c3", scores=scores(1, 1, 2, 10.0, 1.0, 0.9)),
            snap("c4"),  # no model yet
        ],
        [],
    )
    columns = store.score_columns("s1")
    assert sorted(columns["predicted_clv_365d"]) == [10.0, 100.0, 300.0]
    assert sorted(columns["recency_score"]) == [1, 5, 5]
    assert store.rfm_cells("s1") == {"112": 1, "555": 2}
