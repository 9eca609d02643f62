"""Flow files: the default set, validation errors naming file and field, and store overrides."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from boomerang.messenger.domain.audience import CustomerFacts, audience_miss, exit_event
from boomerang.messenger.domain.flow_definitions import (
    AfterEventTrigger,
    Audience,
    BroadcastTrigger,
    DateTrigger,
    Document,
    EventTrigger,
    FreeShipping,
    InvalidFlow,
    MilestoneTrigger,
    PercentOff,
    ReplenishmentTrigger,
    SegmentTrigger,
    build_flow,
    build_flows,
    merge_override,
    parse_clock,
    parse_duration,
    to_flow,
)
from boomerang.messenger.domain.flows import RECEIPT, Channel, Purpose, Step
from boomerang.messenger.domain.receipt import receipt_view
from boomerang.messenger.flows import (
    FlowFiles,
    default_documents,
    default_flows,
    flows_from_texts,
    parse_document,
)
from boomerang.shared.events import SegmentChanged

ORDER_PLACED = "commerce.order.placed"

MINIMAL: dict[str, Any] = {
    "description": "a test flow",
    "purpose": "marketing",
    "priority": 50,
    "trigger": {"kind": "event", "event": ORDER_PLACED, "instance": "order_id"},
    "steps": {"only": {"channels": ["email"], "template": "test/only", "subject": "Hi"}},
}


def flow_from(data: dict[str, Any], name: str = "test_flow") -> Any:
    return build_flow(name, Document(f"flows/{name}.yaml", data))


def errors_of(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    with pytest.raises(InvalidFlow) as raised:
        flow_from(data)
    return list(raised.value.errors)


def paths(errors: list[tuple[str, str, str]]) -> set[str]:
    return {path for _, path, _ in errors}


def with_(data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return merge_override(data, changes)


# --- the default set -----------------------------------------------------------------------------


def test_the_default_set_has_one_file_per_flow_and_all_validate() -> None:
    flows = default_flows()

    assert set(flows.names()) == {
        "receipt",
        "win_back",
        "neutral_nurture",
        "vip_welcome",
        "vip_milestone",
        "birthday",
        "purchase_anniversary",
        "replenishment",
        "feedback_request",
        "checkout_abandonment",
        "broadcast",
    }
    assert set(default_documents()) == set(flows.names())
    # Highest priority first, so a caller walking the set meets the winner of a conflict first.
    priorities = [flow.priority for flow in flows.flows]
    assert priorities == sorted(priorities, reverse=True)
    assert flows.flows[0].name == "receipt"


def test_only_the_receipt_is_transactional_and_marketing_holds_out_ten_percent_by_default() -> None:
    flows = default_flows()

    assert [f.name for f in flows.flows if f.purpose is Purpose.TRANSACTIONAL] == ["receipt"]
    assert flows.get("receipt").holdout_percent == 0
    assert flows.get("win_back").holdout_percent == 10
    # The feedback request opts out explicitly: a survey is not meant to sell.
    assert flows.get("feedback_request").holdout_percent == 0


def test_the_receipt_file_maps_onto_the_receipt_the_handlers_run() -> None:
    flow = to_flow(default_flows().get("receipt"), receipt_view)

    assert flow == RECEIPT
    assert flow.definition is default_flows().get("receipt")
    assert flow.trigger_id_field == "order_id"


def test_win_back_has_two_steps_with_coupons_and_stops_on_a_purchase() -> None:
    win_back = default_flows().get("win_back")

    assert isinstance(win_back.trigger, SegmentTrigger)
    assert (win_back.trigger.to, win_back.trigger.dimension) == ("lapsed", "lifecycle")
    first, second = win_back.steps.values()
    assert first.offer == PercentOff(kind="percent", percent=15, expires_in_days=14)
    assert first.channels == (Channel.EMAIL, Channel.SMS)
    assert second.offer == FreeShipping(kind="free_shipping", expires_in_days=7)
    assert second.delay == timedelta(days=5)
    assert win_back.stops_on(ORDER_PLACED)
    assert default_flows().stopped_by(ORDER_PLACED)[0].name == "checkout_abandonment"
    assert "win_back" in {f.name for f in default_flows().stopped_by(ORDER_PLACED)}


def test_each_default_flow_is_started_by_what_the_issue_says() -> None:
    flows = default_flows()

    assert isinstance(flows.get("checkout_abandonment").trigger, AfterEventTrigger)
    assert flows.get("checkout_abandonment").trigger.after == timedelta(hours=4)
    assert isinstance(flows.get("feedback_request").trigger, AfterEventTrigger)
    assert isinstance(flows.get("birthday").trigger, DateTrigger)
    assert flows.get("purchase_anniversary").trigger.date == "first_purchase"
    assert isinstance(flows.get("replenishment").trigger, ReplenishmentTrigger)
    assert isinstance(flows.get("vip_milestone").trigger, MilestoneTrigger)
    assert flows.get("vip_welcome").trigger.to == "vip"
    assert {step.content for step in flows.get("neutral_nurture").steps.values()} == {"by_category"}
    assert flows.get("broadcast").starts_on is None
    started_by_orders = {flow.name for flow in flows.started_by(ORDER_PLACED)}
    assert started_by_orders == {"receipt", "vip_milestone", "replenishment", "feedback_request"}


def test_schedule_adds_the_wait_the_flow_delay_and_each_step_delay() -> None:
    started = datetime(2026, 3, 1, 12, tzinfo=UTC)

    assert default_flows().get("win_back").schedule(started) == [
        ("we_miss_you", started),
        ("last_chance", started + timedelta(days=5)),
    ]
    assert default_flows().get("checkout_abandonment").schedule(started) == [
        ("reminder", started + timedelta(hours=4))
    ]
    nurture = default_flows().get("neutral_nurture").schedule(started)
    assert [due - started for _, due in nurture] == [timedelta(days=1), timedelta(days=5), timedelta(days=12)]


# --- value parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("4h", timedelta(hours=4)),
        ("3d", timedelta(days=3)),
        ("2w", timedelta(weeks=2)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1D 6H", timedelta(days=1, hours=6)),
        (0, timedelta(0)),
        ("0", timedelta(0)),
    ],
)
def test_durations_are_written_the_way_people_say_them(text: Any, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "4", "h", "4x", "-4h", "4h3d", 3, True, None, "4 hours"])
def test_anything_else_is_not_a_duration(text: Any) -> None:
    with pytest.raises(ValueError, match="duration like"):
        parse_duration(text)


def test_clock_times_need_quotes_because_yaml_reads_21_00_as_a_number() -> None:
    assert parse_clock("08:00") == time(8, 0)
    assert parse_clock(" 21:30 ") == time(21, 30)
    assert parse_document("end: 21:00", "x.yaml").data == {"end": 1260}  # YAML 1.1 base 60
    with pytest.raises(ValueError, match="quotes"):
        parse_clock(1260)
    for bad in ("24:00", "8:00", "08:60", "noon"):
        with pytest.raises(ValueError, match="local time"):
            parse_clock(bad)


# --- invalid flows are rejected with file and field ------------------------------------------------


def test_a_minimal_flow_is_valid_and_gets_the_defaults() -> None:
    flow = flow_from(MINIMAL)

    assert flow.name == "test_flow"
    assert flow.enabled
    assert flow.holdout_percent == 10
    assert flow.audience == Audience()
    assert flow.send_window is None
    assert flow.delay == timedelta(0)


@pytest.mark.parametrize(
    ("changes", "path", "words"),
    [
        ({"priority": 101}, "priority", "less than or equal to 100"),
        ({"purpose": "promotional"}, "purpose", "transactional"),
        ({"colour": "blue"}, "colour", "unknown setting"),
        ({"description": None}, "description", "missing"),
        ({"holdout_percent": 75}, "holdout_percent", "less than or equal to 50"),
        ({"delay": "soon"}, "delay", "duration like"),
        ({"trigger": {"kind": "webhook"}}, "trigger", "kind"),
        ({"trigger": {"event": "order.placed"}}, "trigger.event", "unknown event type 'order.placed'"),
        ({"trigger": {"instance": "order_number"}}, "trigger.instance", "has no field 'order_number'"),
        (
            {"trigger": {"kind": "segment", "to": "lapsd"}},
            "trigger.to",
            "unknown segment 'lapsd'",
        ),
        (
            {"trigger": {"kind": "segment", "to": "vip", "dimension": "lifecycle"}},
            "trigger.to",
            "lifecycle dimension",
        ),
        (
            {"trigger": {"kind": "after_event", "event": ORDER_PLACED, "instance": "order_id", "after": "0h"}},
            "trigger.after",
            "longer than 0",
        ),
        ({"trigger": {"kind": "milestone"}}, "trigger.orders", "at least one milestone"),
        ({"trigger": {"kind": "date", "date": "name_day"}}, "trigger.date", "birthday"),
        ({"steps": {"only": {"channels": ["fax"]}}}, "steps.only.channels.0", "email"),
        ({"steps": {"only": {"channels": []}}}, "steps.only.channels", "at least 1"),
        ({"steps": {"only": {"channels": ["email", "email"]}}}, "steps.only.channels", "twice"),
        ({"steps": {"only": {"subject": None}}}, "steps.only.subject", "needs a subject"),
        ({"steps": {"only": {"channels": ["sms"]}}}, "steps.only.subject", "only email"),
        ({"steps": {"only": {"template": "../etc/passwd"}}}, "steps.only.template", "path like"),
        ({"steps": {"only": {"delay": "forever"}}}, "steps.only.delay", "duration like"),
        ({"steps": {"Only Step": MINIMAL["steps"]["only"]}}, "steps.Only Step", "lower-case"),
        (
            {"steps": {"only": {"offer": {"kind": "percent", "percent": 150, "expires_in_days": 7}}}},
            "steps.only.offer.percent",
            "less than or equal to 100",
        ),
        (
            {"steps": {"only": {"offer": {"kind": "free_shipping"}}}},
            "steps.only.offer.expires_in_days",
            "missing",
        ),
        ({"steps": {"only": {"offer": {"kind": "bogo", "expires_in_days": 3}}}}, "steps.only.offer", "kind"),
        ({"send_window": {"start": "21:00", "end": "08:00"}}, "send_window.end", "after start"),
        ({"send_window": {"start": 480, "end": "20:00"}}, "send_window.start", "quotes"),
        ({"send_window": {"start": "08:00", "end": "20:00", "days": ["funday"]}}, "send_window.days.0", "mon"),
        ({"audience": {"segments_any": ["loyal"]}}, "audience.segments_any", "unknown segment 'loyal'"),
        ({"audience": {"min_orders": 3, "max_orders": 1}}, "audience.max_orders", "at least min_orders"),
        ({"exit": {"events": ["order placed"]}}, "exit.events", "unknown event type"),
        ({"exit": {"left_segment": True}}, "exit.left_segment", "segment change"),
        ({"purpose": "transactional", "holdout_percent": 5}, "holdout_percent", "no holdout"),
        ({"name": "other"}, "name", "file's name"),
    ],
)
def test_an_invalid_flow_names_the_file_and_the_field(changes: dict[str, Any], path: str, words: str) -> None:
    errors = errors_of(with_(MINIMAL, **changes))

    assert {source for source, _, _ in errors} == {"flows/test_flow.yaml"}
    at_path = [message for _, where, message in errors if where == path]
    assert any(words in message for message in at_path), errors


def test_a_flow_needs_at_least_one_step() -> None:
    errors = errors_of({**MINIMAL, "steps": {}})

    assert [(path, "at least 1" in message) for _, path, message in errors] == [("steps", True)]


def test_the_error_message_lists_every_problem_with_file_and_field() -> None:
    with pytest.raises(InvalidFlow) as raised:
        flow_from(with_(MINIMAL, priority=-1, colour="blue"))

    message = str(raised.value)
    assert message.startswith("invalid flow files: ")
    assert "flows/test_flow.yaml: priority: " in message
    assert "flows/test_flow.yaml: colour: unknown setting" in message
    assert raised.value.code == "invalid_flow"
    assert raised.value.field in {"priority", "colour"}


def test_broken_yaml_is_reported_with_its_line() -> None:
    with pytest.raises(InvalidFlow) as raised:
        parse_document("steps:\n  a: [email\n", "acme/win_back.yaml")

    ((source, path, message),) = raised.value.errors
    assert source == "acme/win_back.yaml"
    assert path == ""
    assert "not valid YAML at line" in message


def test_a_document_must_be_a_mapping() -> None:
    with pytest.raises(InvalidFlow, match="must be a mapping of settings, got list"):
        parse_document("- a\n- b\n", "acme/x.yaml")
    assert parse_document("", "acme/x.yaml").data == {}


# --- store overrides -------------------------------------------------------------------------------


def test_an_override_changes_only_what_it_names() -> None:
    flows = flows_from_texts(
        {"win_back": "priority: 85\nsteps:\n  we_miss_you:\n    offer:\n      percent: 20\n"}, "acme"
    )
    win_back = flows.get("win_back")
    default = default_flows().get("win_back")

    assert win_back.priority == 85
    assert win_back.steps["we_miss_you"].offer == PercentOff(kind="percent", percent=20, expires_in_days=14)
    assert win_back.steps["we_miss_you"].subject == default.steps["we_miss_you"].subject
    assert win_back.steps["last_chance"] == default.steps["last_chance"]
    assert win_back.exit == default.exit
    # The other flows are the defaults, and the set is still ordered by priority.
    assert flows.get("birthday") == default_flows().get("birthday")
    assert flows.names().index("win_back") < flows.names().index("vip_milestone")


def test_null_drops_a_step_or_a_setting() -> None:
    flows = flows_from_texts({"win_back": "steps:\n  last_chance: null\nsend_window: null\n"})
    win_back = flows.get("win_back")

    assert list(win_back.steps) == ["we_miss_you"]
    assert win_back.send_window is None


def test_null_on_the_holdout_goes_back_to_the_purpose_default() -> None:
    flows = flows_from_texts({"feedback_request": "holdout_percent: null\n"})

    assert flows.get("feedback_request").holdout_percent == 10


def test_enabled_false_switches_a_flow_off() -> None:
    flows = flows_from_texts({"broadcast": "enabled: false\n", "win_back": "enabled: false\n"})

    assert not flows.get("broadcast").enabled
    assert "win_back" not in {flow.name for flow in flows.enabled}
    assert "win_back" not in {flow.name for flow in flows.started_by(SegmentChanged.event_type)}
    assert "win_back" not in {flow.name for flow in flows.stopped_by(ORDER_PLACED)}


def test_another_offer_kind_replaces_the_offer_instead_of_merging() -> None:
    text = "steps:\n  we_miss_you:\n    offer:\n      kind: free_shipping\n      expires_in_days: 10\n"

    offer = flows_from_texts({"win_back": text}).get("win_back").steps["we_miss_you"].offer

    assert offer == FreeShipping(kind="free_shipping", expires_in_days=10)


def test_another_trigger_kind_replaces_the_trigger_and_the_same_kind_merges() -> None:
    same = flows_from_texts({"win_back": "trigger:\n  to: at_risk\n"}).get("win_back").trigger
    text = "trigger:\n  kind: broadcast\nexit:\n  left_segment: false\n"
    other = flows_from_texts({"win_back": text}).get("win_back").trigger

    assert same == SegmentTrigger(kind="segment", to="at_risk", dimension="lifecycle")
    assert other == BroadcastTrigger(kind="broadcast")


def test_replace_true_makes_the_file_the_whole_flow() -> None:
    text = """
replace: true
description: Our own receipt, email only.
purpose: transactional
priority: 100
trigger: {kind: event, event: commerce.order.placed, instance: order_id}
steps:
  email: {channels: [email], template: acme/receipt, subject: "Thanks!"}
"""
    receipt = flows_from_texts({"receipt": text}).get("receipt")

    assert list(receipt.steps) == ["email"]
    assert receipt.steps["email"].template == "acme/receipt"


def test_replace_true_with_an_incomplete_flow_names_what_is_missing() -> None:
    with pytest.raises(InvalidFlow) as raised:
        flows_from_texts({"receipt": "replace: true\npriority: 100\n"}, "acme")

    assert {("acme/receipt.yaml", "description", "missing")} <= set(raised.value.errors)
    assert ("acme/receipt.yaml", "steps", "missing") in raised.value.errors


def test_a_file_naming_no_default_flow_is_a_new_flow_of_the_store() -> None:
    text = """
description: Tell VIPs about the spring collection a day early.
purpose: marketing
priority: 25
trigger: {kind: broadcast}
audience: {segments_any: [vip]}
steps:
  preview: {channels: [email], template: acme/spring_preview, subject: "A first look"}
"""
    flows = flows_from_texts({"spring_preview": text})

    assert flows.get("spring_preview").audience.segments_any == ("vip",)
    assert len(flows.flows) == len(default_flows().flows) + 1


def test_an_invalid_override_names_the_stores_file_and_every_problem_of_every_file() -> None:
    with pytest.raises(InvalidFlow) as raised:
        flows_from_texts(
            {
                "win_back": "steps:\n  we_miss_you:\n    offer:\n      percent: 0\n",
                "receipt": "holdout_percent: 10\n",
            },
            "acme",
        )

    assert set(raised.value.errors) >= {
        ("acme/win_back.yaml", "steps.we_miss_you.offer.percent", "Input should be greater than or equal to 1 (got 0)"),
        (
            "acme/receipt.yaml",
            "holdout_percent",
            "a transactional message is owed to the customer: it has no holdout",
        ),
    }


def test_replace_must_be_a_boolean() -> None:
    with pytest.raises(InvalidFlow) as raised:
        flows_from_texts({"win_back": "replace: yes please\n"}, "acme")

    assert raised.value.errors[0][:2] == ("acme/win_back.yaml", "replace")


def test_merge_override_rules() -> None:
    base = {"a": 1, "b": {"x": 1, "y": 2}, "c": [1, 2], "t": {"kind": "k1", "p": 1}}

    assert merge_override(base, {"b": {"y": 3, "z": 4}}) == {**base, "b": {"x": 1, "y": 3, "z": 4}}
    assert merge_override(base, {"c": [3]})["c"] == [3]
    assert "a" not in merge_override(base, {"a": None})
    assert merge_override(base, {"t": {"kind": "k2", "q": 2}})["t"] == {"kind": "k2", "q": 2}
    assert merge_override(base, {"t": {"kind": "k1", "q": 2}})["t"] == {"kind": "k1", "p": 1, "q": 2}
    assert base["b"] == {"x": 1, "y": 2}  # the default document is never changed


# --- the store directory ----------------------------------------------------------------------------


def test_store_directories_override_by_flow_name(tmp_path: Path) -> None:
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "broadcast.yaml").write_text("enabled: false\n")
    (tmp_path / "acme" / "win_back.yaml").write_text("priority: 95\n")
    files = FlowFiles(tmp_path)

    acme = files.for_store("acme")

    assert not acme.get("broadcast").enabled
    assert acme.get("win_back").priority == 95
    assert files.for_store("other") is default_flows()
    assert files.for_store("../acme") is default_flows()  # not a store id: never a path
    assert FlowFiles(None).for_store("acme") is default_flows()
    assert set(files.check()) == {"acme"}


def test_a_stores_flows_are_cached_until_reload(tmp_path: Path) -> None:
    (tmp_path / "acme").mkdir()
    override = tmp_path / "acme" / "win_back.yaml"
    override.write_text("priority: 95\n")
    files = FlowFiles(tmp_path)
    assert files.for_store("acme").get("win_back").priority == 95

    override.write_text("priority: 15\n")
    assert files.for_store("acme").get("win_back").priority == 95
    files.reload()
    assert files.for_store("acme").get("win_back").priority == 15


def test_check_reports_every_bad_file_of_every_store(tmp_path: Path) -> None:
    for store, text in (("acme", "priority: high\n"), ("bolt", "steps: [\n"), ("fine", "priority: 1\n")):
        (tmp_path / store).mkdir()
        (tmp_path / store / "win_back.yaml").write_text(text)

    with pytest.raises(InvalidFlow) as raised:
        FlowFiles(tmp_path).check()

    assert {(source, path) for source, path, _ in raised.value.errors} == {
        ("acme/win_back.yaml", "priority"),
        ("bolt/win_back.yaml", ""),
    }


# --- triggers, audience, exit, runtime mapping -------------------------------------------------------


def change(to: str, from_: str | None = None, dimension: str | None = "lifecycle") -> SegmentChanged:
    return SegmentChanged(
        from_segment=from_,
        to_segment=to,
        reason="test",
        changed_at=datetime(2026, 1, 1, tzinfo=UTC),
        orders=2,
        revenue=Decimal("10"),
        dimension=dimension,
    )


def test_a_segment_trigger_matches_the_segment_entered_and_optionally_where_from() -> None:
    trigger = SegmentTrigger.model_validate({"kind": "segment", "to": "lapsed", "from": ["at_risk"]})

    assert trigger.matches(change("lapsed", "at_risk"))
    assert trigger.matches(change("lapsed", "at_risk", dimension=None))  # events written before dimensions
    assert not trigger.matches(change("lapsed", "neutral"))
    assert not trigger.matches(change("at_risk", "active"))
    assert not trigger.matches(change("lapsed", "at_risk", dimension="value"))
    assert SegmentTrigger(kind="segment", to="lapsed").matches(change("lapsed", None))


def test_a_milestone_is_reached_by_the_order_that_crosses_it() -> None:
    trigger = MilestoneTrigger(kind="milestone", orders=(5, 10), net_revenue=(Decimal(500),))

    assert trigger.reached(4, 5, Decimal(100), Decimal(120))
    assert not trigger.reached(5, 6, Decimal(100), Decimal(120))
    assert trigger.reached(6, 7, Decimal(450), Decimal(500))
    assert not trigger.reached(6, 7, Decimal(500), Decimal(600))


def test_audience_conditions_all_have_to_hold() -> None:
    audience = Audience(segments_any=("active", "vip"), segments_none=("lapsed",), min_orders=2, categories_any=("tea",))
    fits = CustomerFacts(segments=frozenset({"vip"}), orders=2, categories=frozenset({"tea"}))

    assert audience_miss(audience, fits) is None
    assert audience_miss(audience, CustomerFacts(segments=frozenset({"new"}), orders=5)) == "in none of active, vip"
    assert audience_miss(audience, CustomerFacts(frozenset({"vip", "lapsed"}), 3)) == "in lapsed"
    assert audience_miss(audience, CustomerFacts(frozenset({"vip"}), 1)) == "1 orders, fewer than 2"
    assert audience_miss(audience, CustomerFacts(frozenset({"vip"}), 2)) == "no interest in tea"
    assert audience_miss(Audience(max_orders=1), CustomerFacts(orders=2)) == "2 orders, more than 1"
    rich = Audience(min_net_revenue=Decimal(100))
    assert audience_miss(rich, CustomerFacts(net_revenue=Decimal("99.99"))) == "spent 99.99, less than 100"
    assert audience_miss(Audience(), CustomerFacts()) is None


def test_an_exit_event_seen_since_the_start_stops_the_flow() -> None:
    win_back = default_flows().get("win_back")

    assert exit_event(win_back, {"commerce.product.viewed", ORDER_PLACED}) == ORDER_PLACED
    assert exit_event(win_back, {"commerce.product.viewed"}) is None


def test_flows_not_started_by_one_event_are_not_mapped_onto_the_runtime_flow() -> None:
    with pytest.raises(ValueError, match="started by segment"):
        to_flow(default_flows().get("win_back"), receipt_view)


def test_a_multi_channel_step_maps_with_its_fallback_and_can_be_sent_on_it() -> None:
    flow = to_flow(default_flows().get("checkout_abandonment"), receipt_view)
    (step,) = flow.steps

    assert (step.channel, step.template, step.fallback) == (
        Channel.EMAIL,
        "checkout/reminder/email",
        (Channel.SMS,),
    )
    on_sms = step.on(Channel.SMS)
    assert (on_sms.channel, on_sms.template, on_sms.fallback) == (Channel.SMS, "checkout/reminder/sms", ())
    assert step.on(Channel.EMAIL) is step
    with pytest.raises(ValueError, match="does not end in /email"):
        Step("x", Channel.EMAIL, "receipt/custom").on(Channel.SMS)


def test_event_trigger_instance_must_be_a_field_of_that_event() -> None:
    trigger = EventTrigger(kind="event", event="commerce.checkout.started", instance="checkout_id")

    assert trigger.instance == "checkout_id"
    assert default_flows().get("birthday").trigger.at == time(9, 0)


def test_a_list_with_a_bad_item_is_reported_once_at_the_item() -> None:
    errors = errors_of(with_(MINIMAL, steps={"only": {"channels": ["fax"]}}))

    assert [(path, message) for _, path, message in errors] == [
        ("steps.only.channels.0", "Input should be 'email' or 'sms' (got 'fax')")
    ]


def test_the_readmes_override_examples_are_valid_and_do_what_they_say() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Store overrides", 1)[1]
    win_back_text, broadcast_text = (block.split("```", 1)[0] for block in section.split("```yaml\n")[1:3])

    flows = flows_from_texts({"win_back": win_back_text, "broadcast": broadcast_text}, "acme")

    win_back = flows.get("win_back")
    assert win_back.priority == 85
    assert list(win_back.steps) == ["we_miss_you"]
    assert win_back.steps["we_miss_you"].offer == PercentOff(kind="percent", percent=20, expires_in_days=14)
    assert win_back.send_window is not None and win_back.send_window.days == ("mon", "tue", "wed", "thu", "fri")
    assert not flows.get("broadcast").enabled
