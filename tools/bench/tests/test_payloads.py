"""The benchmark's calls: the same on every run, fresh ids per run, and all valid for ingest."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from boomerang.bench.payloads import calls, track_calls
from boomerang.ingest.domain.mapping import Rules, to_envelope

NOW = datetime(2025, 3, 2, tzinfo=timezone.utc)


def _without_ids(made: list[dict]) -> list[dict]:
    return [{k: v for k, v in call.items() if k != "messageId"} for call in made]


def test_two_runs_send_the_same_calls_under_different_ids():
    first, second = calls(300, run_id="run1", tag="b"), calls(300, run_id="run2", tag="b")
    assert _without_ids(first) == _without_ids(second)
    assert not {c["messageId"] for c in first} & {c["messageId"] for c in second}
    assert len({c["messageId"] for c in first}) == 300


def test_every_call_maps_to_an_event_and_the_mix_is_a_shops():
    made = calls(1000, run_id="r", tag="b")
    types = Counter(
        to_envelope(c, call=None, store_id="s", received_at=NOW, new_id="unused", rules=Rules()).type
        for c in made
    )
    assert set(types) == {
        "commerce.page.viewed", "commerce.product.viewed", "commerce.customer.identified", "commerce.order.placed",
    }
    assert types["commerce.product.viewed"] > types["commerce.order.placed"]


def test_track_calls_are_single_track_bodies():
    made = track_calls(200, run_id="r", tag="t")
    assert all("type" not in c for c in made)
    events = {
        to_envelope(c, call="track", store_id="s", received_at=NOW, new_id="unused", rules=Rules()).type
        for c in made
    }
    assert events == {"commerce.product.viewed", "commerce.order.placed"}
