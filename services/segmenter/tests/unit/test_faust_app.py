"""The faust app as wired, without a broker: names, partitions, stores and the segment counts view."""

from __future__ import annotations

from pathlib import Path

import pytest

from boomerang.segmenter.adapters.state_codec import encode_state
from boomerang.segmenter.domain import CustomerState
from boomerang.segmenter.entrypoints.faust_app import create_faust_app, faust_config
from boomerang.segmenter.entrypoints.web import Readiness, _sizes_for
from boomerang.segmenter.settings import SegmenterSettings
from boomerang.shared.kafka.topics import PARTITIONS
from boomerang.shared.settings import CommonSettings


def settings_for(prefix: str, tmp_path: Path, **kw) -> SegmenterSettings:
    common = CommonSettings(kafka_bootstrap="k1:9092,k2:9092", topic_prefix=prefix)
    return SegmenterSettings(common=common, data_dir=tmp_path / "data", table_store="memory", **kw)


def test_app_id_and_internal_topics_carry_the_prefix(tmp_path):
    app = create_faust_app(settings_for("t42.", tmp_path))
    assert app.conf.id == "t42.boomerang-segmenter"
    table = app.tables["customers"]
    assert table.changelog_topic.get_topic_name() == "t42.boomerang-segmenter-customers-changelog"
    assert table.partitions == PARTITIONS == app.conf.topic_partitions


def test_one_agent_consumes_the_prefixed_commerce_and_feedback_topics(tmp_path):
    app = create_faust_app(settings_for("t43.", tmp_path))
    agents = {name: sorted(agent.channel.topics) for name, agent in app.agents.items()}
    assert agents == {
        # Same key and partition count: the customers table is co-partitioned with both.
        "segment-customers": ["t43.commerce.events.v1", "t43.feedback.events.v1"],
        "sweep-customers": ["t43.boomerang-segmenter.sweep.v1"],
    }
    assert app.tables["due"].changelog_topic.get_topic_name() == "t43.boomerang-segmenter-due-changelog"


def test_rocksdb_outside_tests_in_a_directory_per_app(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOMERANG_TOPIC_PREFIX", "t44.")
    monkeypatch.setenv("BOOMERANG_SEGMENTER_DATA_DIR", str(tmp_path / "seg"))
    settings = SegmenterSettings()
    config = faust_config(settings)
    assert settings.table_store == "rocksdb" and config["store"] == "rocksdb://"
    assert config["datadir"] == str(tmp_path / "seg" / "t44.boomerang-segmenter")
    assert create_faust_app(settings).tables["customers"].options == {"driver": "rocksdict"}


def test_an_invalid_policy_file_stops_the_worker_at_start(tmp_path):
    from boomerang.segmenter.domain.policy import InvalidPolicy

    (tmp_path / "store-9.yaml").write_text("vip:\n  leave_pct: 3\n")
    with pytest.raises(InvalidPolicy, match="leave_pct"):
        create_faust_app(settings_for("t45.", tmp_path, policy_dir=tmp_path))


def test_settings_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("BOOMERANG_SEGMENTER_DATABASE_URL", "sqlite:///elsewhere.db")
    monkeypatch.setenv("BOOMERANG_SEGMENTER_PORT", "18002")
    settings = SegmenterSettings()
    assert settings.database_url == "sqlite:///elsewhere.db"
    assert faust_config(settings)["web_port"] == 18002


def test_every_bootstrap_server_becomes_a_broker_url(tmp_path):
    assert faust_config(settings_for("", tmp_path))["broker"] == ["kafka://k1:9092", "kafka://k2:9092"]


def test_customer_tables_are_not_served_by_faust(tmp_path):
    config = faust_config(settings_for("", tmp_path))
    assert config["web_tables_enabled"] is False


def test_not_ready_before_the_worker_started(tmp_path):
    app = create_faust_app(settings_for("t45.", tmp_path))
    readiness = Readiness(app, "t45.commerce.events.v1")
    assert readiness.checks() == {"worker_started": False, "tables_recovered": False, "partitions_assigned": False}


@pytest.fixture
def table_rows():
    def row(store: str, customer: str, **segments: str) -> tuple[bytes, bytes]:
        return f"{store}:{customer}".encode(), encode_state(CustomerState(store, customer, segments=segments))

    return dict(
        [
            row("store-1", "a", lifecycle="new", value="vip"),
            row("store-1", "b", lifecycle="new"),
            row("store-1", "anon:c"),
            row("store-10", "d", lifecycle="new"),  # shares a prefix with store-1, not its customers
            row("store-2", "e", lifecycle="new", value="vip"),
        ]
    )


async def test_segment_sizes_count_one_store(table_rows):
    sizes = await _sizes_for(table_rows, "store-1")
    assert sizes.customers == 3
    assert dict(sizes.segments) == {"new": 2, "vip": 1}


async def test_segment_sizes_of_an_unknown_store_are_zero(table_rows):
    sizes = await _sizes_for(table_rows, "store-9")
    assert (sizes.customers, dict(sizes.segments)) == (0, {})


def test_the_clock_setting_chooses_the_wall_clock_or_the_event_time_watermark(tmp_path):
    import faust

    from boomerang.segmenter.adapters.clocks import BEFORE_ANY_EVENT, EventTimeClock
    from boomerang.segmenter.bootstrap import utc_now, wire

    wall = wire(faust.App("t46"), settings_for("t46.", tmp_path))
    assert wall.clock is utc_now
    replay = wire(faust.App("t47"), settings_for("t47.", tmp_path, clock="event-time"))
    assert isinstance(replay.clock, EventTimeClock) and replay.clock() == BEFORE_ANY_EVENT
    with pytest.raises(ValueError):
        settings_for("t48.", tmp_path, clock="sundial")
