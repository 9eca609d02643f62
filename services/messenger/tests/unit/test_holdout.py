"""Holdout groups: deterministic per (store, customer, flow), the size asked for, independent per flow."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from boomerang.messenger.domain.holdout import BUCKETS, holdout_bucket, in_holdout

CUSTOMERS = [f"customer-{n}" for n in range(10_000)]


def test_the_bucket_is_fixed_forever() -> None:
    # Pinned: a change of hash would silently reshuffle every store's control groups mid-test.
    assert holdout_bucket("acme", "c-1", "win_back") == 3264


def test_about_ten_percent_of_ten_thousand_customers_are_held_out() -> None:
    held = sum(in_holdout("acme", customer, "win_back", 10) for customer in CUSTOMERS)

    # Binomial(10 000, 0.1): standard deviation 30, so 900-1100 is over 3 sigma each side.
    assert 900 <= held <= 1100


def test_the_same_customer_is_held_out_of_different_flows_independently() -> None:
    win_back = {c for c in CUSTOMERS if in_holdout("acme", c, "win_back", 10)}
    birthday = {c for c in CUSTOMERS if in_holdout("acme", c, "birthday", 10)}

    # Independent groups overlap on about 10 % x 10 % = 1 % of customers, not on 10 %.
    assert 50 <= len(win_back & birthday) <= 160
    assert win_back != birthday


def test_stores_have_their_own_groups() -> None:
    acme = {c for c in CUSTOMERS[:2000] if in_holdout("acme", c, "win_back", 10)}
    bolt = {c for c in CUSTOMERS[:2000] if in_holdout("bolt", c, "win_back", 10)}

    assert acme != bolt


def test_zero_percent_holds_out_nobody_and_fifty_about_half() -> None:
    assert not any(in_holdout("acme", c, "receipt", 0) for c in CUSTOMERS)
    half = sum(in_holdout("acme", c, "win_back", 50) for c in CUSTOMERS)
    assert 4850 <= half <= 5150


def test_ids_are_separated_so_concatenations_do_not_collide() -> None:
    assert holdout_bucket("ab", "c", "f") != holdout_bucket("a", "bc", "f")


@settings(max_examples=300, deadline=None)
@given(
    store=st.text(min_size=1, max_size=20),
    customer=st.text(min_size=1, max_size=40),
    flow=st.sampled_from(["win_back", "birthday", "broadcast"]),
    smaller=st.floats(0, 50),
    larger=st.floats(0, 50),
)
def test_a_bigger_holdout_contains_the_smaller_one(
    store: str, customer: str, flow: str, smaller: float, larger: float
) -> None:
    smaller, larger = sorted((smaller, larger))

    assert 0 <= holdout_bucket(store, customer, flow) < BUCKETS
    assert in_holdout(store, customer, flow, smaller) <= in_holdout(store, customer, flow, larger)
    # Asking twice gives the same answer (no salt, no state).
    assert in_holdout(store, customer, flow, larger) == in_holdout(store, customer, flow, larger)
