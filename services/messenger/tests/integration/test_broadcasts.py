"""Broadcasts on the real stores (SQLite and PostgreSQL), and a campaign started by the CLI's
code path while the messenger runs against the real broker and the provider sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from boomerang.messenger.adapters.segments import SqlCampaigns, SqlSegmentMembers
from boomerang.messenger.adapters.store import SqlSendLedger
from boomerang.messenger.domain.broadcasts import Broadcast
from boomerang.messenger.domain.content import Campaign
from boomerang.messenger.domain.holdout import in_holdout
from boomerang.messenger.domain.messages import State
from boomerang.messenger.entrypoints import broadcasts
from boomerang.messenger.entrypoints.cli import cli
from boomerang.shared.db import make_engine
from boomerang.shared.events import CustomerIdentified, Envelope, Event, SegmentChanged
from boomerang.shared.kafka import COMMERCE_EVENTS, CUSTOMER_SEGMENTS, EventPublisher
from boomerang.shared.links import LinkSettings

pytestmark = pytest.mark.integration
NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
CONTENT = """subject: "Early access: our holiday collection"
heading: Before anyone else
paragraphs:
  - Our holiday collection is here.
  - Loyal customers see it first.
cta_label: See the collection
cta_url: https://shop.example/holidays
"""


def test_members_keep_the_latest_segment_per_dimension_and_page_by_customer(engine) -> None:
    members = SqlSegmentMembers(engine)
    members.record("s1", "c1", "lifecycle", "active", NOW, 2, Decimal("80.50"))
    members.record("s1", "c1", "value", "vip", NOW + timedelta(hours=1), 3, Decimal("900"))
    members.record("s1", "c1", "lifecycle", "lapsed", NOW - timedelta(days=9), 1, Decimal("10"))  # late
    members.record("s1", "c2", "lifecycle", "lapsed", NOW, 1, Decimal("10"))
    members.record("s2", "c3", "lifecycle", "active", NOW, 1, Decimal("10"))

    facts = members.facts_of("s1", "c1")
    assert facts is not None
    assert (facts.segments, facts.orders, facts.net_revenue) == (frozenset({"active", "vip"}), 3, Decimal("900"))
    assert members.facts_of("s1", "nobody") is None
    assert [m.customer_id for m in members.members("s1", ["active", "vip"])] == ["c1"]
    assert [m.customer_id for m in members.members("s1", ["lapsed", "active"])] == ["c1", "c2"]


def test_many_members_come_back_once_each_across_pages(engine) -> None:
    members = SqlSegmentMembers(engine)
    for i in range(2_345):
        members.record("s1", f"c{i:05d}", "lifecycle", "active", NOW, 1, Decimal(1))
        if i % 3 == 0:
            members.record("s1", f"c{i:05d}", "value", "vip", NOW, 1, Decimal(1))
    found = [m.customer_id for m in members.members("s1", ["active", "vip"])]
    assert found == [f"c{i:05d}" for i in range(2_345)]


def test_a_campaign_is_stored_once(engine) -> None:
    campaigns = SqlCampaigns(engine)
    first = Broadcast("s1", "holidays", "broadcast", Campaign(subject="A", heading="h", paragraphs=["p"]), NOW, ("vip",))
    second = Broadcast("s1", "holidays", "broadcast", Campaign(subject="B", heading="h", paragraphs=["p"]), NOW)
    assert campaigns.add(first, NOW) == first
    assert campaigns.add(second, NOW) == first
    assert campaigns.get("s1", "holidays") == first and campaigns.get("s2", "holidays") is None


def wrap(event: Event, customer_id: str, envelope_id: str) -> Envelope:
    return Envelope.wrap(event, store_id="bc", customer_id=customer_id, source="test", time=NOW, id=envelope_id)


def change(customer_id: str, segment: str) -> Envelope:
    event = SegmentChanged(
        from_segment="new", to_segment=segment, reason="test", changed_at=NOW, orders=2, revenue=Decimal("90"),
        dimension="lifecycle",
    )  # fmt: skip
    return wrap(event, customer_id, f"seg-{customer_id}")


async def test_a_broadcast_started_from_the_command_line_is_sent_by_the_running_messenger(
    sandbox, messenger_settings, run_messenger, wait_for, kafka_bootstrap, topic_prefix, tmp_path
) -> None:
    flows = tmp_path / "flows" / "bc"
    flows.mkdir(parents=True)
    (flows / "broadcast.yaml").write_text("send_window: null\n")  # any hour, so the test runs at any hour
    settings = messenger_settings.model_copy(
        update={
            "flows_dir": tmp_path / "flows",
            "scheduler_interval_seconds": 0.2,
            "links": LinkSettings(signing_key="integration-key", base_url="https://feedback.example"),
        }
    )
    content = tmp_path / "holidays.yaml"
    content.write_text(CONTENT)
    customers = [c for c in (f"k{i}" for i in range(100)) if not in_holdout("bc", c, "broadcast", 10)][:3]
    active, loyal, lapsed = customers
    publisher = EventPublisher(kafka_bootstrap, topic_prefix)
    await publisher.start()
    engine = make_engine(settings.database_url)
    try:
        async with run_messenger(settings):
            await publisher.publish_many(
                COMMERCE_EVENTS.name,
                [wrap(CustomerIdentified(email=f"{c}@example.com", email_marketing_consent=True), c, f"id-{c}") for c in customers],
            )
            await publisher.publish_many(
                CUSTOMER_SEGMENTS.name, [change(active, "active"), change(loyal, "reactivated"), change(lapsed, "lapsed")]
            )
            members = SqlSegmentMembers(engine)
            await wait_for(lambda: all(members.facts_of("bc", c) for c in customers))
            now = datetime.now(UTC)
            started = broadcasts.start(settings, "bc", "holidays-2026", content, "broadcast", None, None, now, now)
            again = broadcasts.start(settings, "bc", "holidays-2026", content, "broadcast", None, None, now, now)
            emails = await wait_for(
                lambda: len(c := [m for m in sandbox.outbox("sendgrid") if "holiday" in m["subject"]]) >= 2 and c
            )
    finally:
        await publisher.stop()

    assert (started.audience, started.scheduled, again.scheduled, again.already_scheduled) == (2, 2, 0, 2)
    assert sorted(to for m in emails for to in m["to"]) == sorted([f"{active}@example.com", f"{loyal}@example.com"])
    ledger = SqlSendLedger(engine)
    for customer_id in (active, loyal):
        sent = [e for e in ledger.history("bc", customer_id, NOW) if e.flow == "broadcast"]
        assert [(e.state, e.trigger_id) for e in sent] == [(State.SENT, "holidays-2026")]
    assert not [e for e in ledger.history("bc", lapsed, NOW) if e.flow == "broadcast"]
    engine.dispose()


def test_the_command_names_the_wrong_field_and_exits_2(messenger_settings, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BOOMERANG_MESSENGER_DATABASE_URL", messenger_settings.database_url)
    good = tmp_path / "holidays.yaml"
    good.write_text(CONTENT)
    bad = tmp_path / "bad.yaml"
    bad.write_text("subject: ''\nheading: h\nparagraphs: [p]\n")

    def run(*extra: str):
        return CliRunner().invoke(cli, ["broadcast", "--store", "bc", "--campaign", "x", *extra])

    bad_segment = run("--content", str(good), "--segment", "whales")
    bad_content = run("--content", str(bad))
    naive_time = run("--content", str(good), "--at", "2026-12-01T10:00:00")
    not_a_time = run("--content", str(good), "--at", "next tuesday")

    assert bad_segment.exit_code == 2 and "segments_any: unknown segments whales" in bad_segment.output
    assert bad_content.exit_code == 2 and "content.subject" in bad_content.output
    assert naive_time.exit_code == 2 and "at: give the time with its offset" in naive_time.output
    assert not_a_time.exit_code == 2 and "at: not an ISO 8601 time" in not_a_time.output
