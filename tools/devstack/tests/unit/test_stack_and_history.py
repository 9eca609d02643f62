"""The devstack's wiring of the segmenter's query API, and the CDNOW histories the demo replays."""

from __future__ import annotations

from datetime import date, datetime, timezone

from boomerang.devstack.history import HISTORIES, birthday_of, identify_call, load_purchases
from boomerang.devstack.stack import COMMANDS, SERVICES, Stack, StackConfig


def test_the_query_api_reads_the_database_the_segmenter_worker_writes(tmp_path):
    clock = {"segmenter": {"BOOMERANG_SEGMENTER_CLOCK": "event-time"}}
    stack = Stack(StackConfig(root=tmp_path, kafka_bootstrap="127.0.0.1:1", service_settings=clock))
    worker, api = stack.env("segmenter"), stack.env("segmenter-api")
    assert api["BOOMERANG_SEGMENTER_DATABASE_URL"] == worker["BOOMERANG_SEGMENTER_DATABASE_URL"]
    assert api["BOOMERANG_SEGMENTER_DATABASE_URL"] == f"sqlite:///{tmp_path / 'data' / 'segmenter'}.db"
    assert api["BOOMERANG_SEGMENTER_API_PORT"] == "8005" and worker["BOOMERANG_SEGMENTER_PORT"] == "8002"
    assert worker["BOOMERANG_SEGMENTER_CLOCK"] == "event-time"
    assert "BOOMERANG_SEGMENTER_CLOCK" not in stack.env("messenger")  # settings go to their service only
    assert COMMANDS["segmenter-api"] == ["boomerang-segmenter", "api"]
    assert SERVICES.index("segmenter-api") > SERVICES.index("segmenter")  # stopped before the worker
    assert set(stack.status()) == set(SERVICES)  # `make status` lists it


def test_every_cdnow_history_loads_from_its_own_layout():
    sizes = {name: (len(ps := load_purchases(path)), len({p.customer for p in ps})) for name, path in HISTORIES.items()}
    assert sizes == {"first300": (1046, 300), "sample": (6919, 2357), "full": (69659, 23570)}
    sample = load_purchases(HISTORIES["sample"])
    assert (sample[0].customer, sample[0].day.date().isoformat(), str(sample[0].value)) == (4, "1997-01-01", "29.33")


def test_the_replay_tells_two_customers_in_three_birthdays_that_ingest_accepts():
    told = [birthday_of(n) for n in range(1, 301)]
    assert sum(b is not None for b in told) == 200
    assert len({(b.month, b.day) for b in told if b}) > 100  # spread over the year, not one day
    assert all(date(1950, 1, 1) <= b < date(1990, 1, 1) for b in told if b)  # born before the history
    call = identify_call(4, datetime(1997, 1, 1, tzinfo=timezone.utc))
    assert call["traits"]["birthday"] == birthday_of(4).isoformat()  # type: ignore[union-attr]
    assert "birthday" not in identify_call(5, datetime(1997, 1, 1, tzinfo=timezone.utc))["traits"]
