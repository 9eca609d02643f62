"""The lifecycle policy: the shipped default, per-store overrides, and errors that name the field."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from boomerang.segmenter.adapters.policy_files import (
    PolicyFiles,
    default_document,
    default_policy,
    parse_document,
    policy_from_text,
)
from boomerang.segmenter.domain.policy import InvalidPolicy, LifecyclePolicy, build_policy, merge


def test_the_default_policy_ships_in_the_package_and_is_valid():
    policy = default_policy()
    assert policy.version == 1
    assert (policy.new.days, policy.reactivated.days) == (30, 60)
    assert (policy.at_risk.intervals, policy.at_risk.min_days, policy.at_risk.max_days, policy.at_risk.one_time_buyer_days) == (2, 30, 180, 60)
    assert (policy.lapsed.intervals, policy.lapsed.min_days, policy.lapsed.max_days, policy.lapsed.one_time_buyer_days) == (4, 90, 365, 180)
    assert (policy.neutral.engaged_within_days, policy.neutral.rfm_total_at_most) == (14, 8)
    assert (policy.vip.enter_percentile, policy.vip.leave_percentile, policy.vip.min_orders) == (90, 80, 1)
    assert policy.vip.without_scores is not None
    assert (policy.vip.without_scores.enter_net_revenue, policy.vip.without_scores.leave_net_revenue) == (Decimal(500), Decimal(400))


def test_thresholds_live_in_the_file_not_in_code():
    with pytest.raises(InvalidPolicy) as caught:
        build_policy({})
    assert {path for path, _ in caught.value.errors} == {"version", "new", "at_risk", "lapsed", "reactivated", "neutral", "vip"}
    with pytest.raises(InvalidPolicy) as caught:
        build_policy({**default_document(), "at_risk": {"intervals": 2}})
    assert {path for path, _ in caught.value.errors} == {"at_risk.min_days", "at_risk.max_days", "at_risk.one_time_buyer_days"}
    assert all(message == "missing" for _, message in caught.value.errors)


def test_a_store_override_changes_one_threshold_and_keeps_the_rest(tmp_path: Path):
    (tmp_path / "store-1.yaml").write_text("# slow-moving catalogue\nlapsed:\n  one_time_buyer_days: 365\n")
    files = PolicyFiles(tmp_path)
    store1, store2 = files.for_store("store-1"), files.for_store("store-2")
    assert store1.lapsed.one_time_buyer_days == 365
    assert store1.model_dump() == default_policy().model_dump() | {"lapsed": default_policy().lapsed.model_dump() | {"one_time_buyer_days": 365}}
    assert store2 == default_policy()


def test_an_override_can_switch_optional_rules_off():
    policy = policy_from_text("neutral:\n  engaged_within_days: null\n  rfm_total_at_most: null\nvip:\n  without_scores: null\n")
    assert (policy.neutral.engaged_within_days, policy.neutral.rfm_total_at_most, policy.vip.without_scores) == (None, None, None)
    assert policy.vip.enter_percentile == 90


def test_an_empty_override_is_the_default():
    assert policy_from_text("") == default_policy()
    assert policy_from_text("# nothing changed\n") == default_policy()


def test_merge_replaces_values_and_merges_sections():
    base = {"a": {"x": 1, "y": {"p": 1, "q": 2}}, "b": 2}
    assert merge(base, {"a": {"y": {"q": 3}}, "b": None}) == {"a": {"x": 1, "y": {"p": 1, "q": 3}}, "b": None}
    assert merge(base, {"a": 5}) == {"a": 5, "b": 2}
    assert base == {"a": {"x": 1, "y": {"p": 1, "q": 2}}, "b": 2}  # untouched


@pytest.mark.parametrize(
    ("override", "field", "says"),
    [
        ("at_risk:\n  min_days: -1\n", "at_risk.min_days", "greater than 0"),
        ("at_risk:\n  max_days: 10\n", "at_risk.max_days", "at least min_days (30)"),
        ("lapsed:\n  one_time_buyer_days: 45\n", "lapsed.one_time_buyer_days", "at least at_risk.one_time_buyer_days (60)"),
        ("at_risk:\n  intervals: 5\n", "lapsed.intervals", "at least at_risk.intervals (5)"),
        ("vip:\n  leave_percentile: 95\n", "vip.leave_percentile", "at most enter_percentile (90)"),
        ("vip:\n  enter_percentile: 101\n", "vip.enter_percentile", "less than or equal to 100"),
        ("vip:\n  min_orders: 0\n", "vip.min_orders", "greater than or equal to 1"),
        ("vip:\n  without_scores:\n    leave_net_revenue: 600\n", "vip.without_scores.leave_net_revenue", "at most enter_net_revenue (500)"),
        ("neutral:\n  rfm_total_at_most: 16\n", "neutral.rfm_total_at_most", "less than or equal to 15"),
        ("neutral:\n  engaged_within_days: lots\n", "neutral.engaged_within_days", "valid number"),
        ("new:\n  dayz: 10\n", "new.dayz", "unknown setting"),
        ("vip: 90\n", "vip", "valid dictionary"),
        ("version: 2\n", "version", "should be 1"),
    ],
)
def test_an_invalid_override_is_refused_naming_the_field(override, field, says):
    with pytest.raises(InvalidPolicy) as caught:
        policy_from_text(override, source="store-9.yaml")
    error = caught.value
    assert error.field == field
    assert says in error.message
    assert error.message.startswith(f"invalid lifecycle policy store-9.yaml: {field}: ")


def test_every_problem_is_reported_at_once():
    with pytest.raises(InvalidPolicy) as caught:
        policy_from_text("new:\n  days: 0\nreactivated:\n  days: -2\nneutral:\n  typo: 1\n")
    assert [path for path, _ in caught.value.errors] == ["new.days", "reactivated.days", "neutral.typo"]


def test_an_invalid_policy_answers_like_every_other_rejection():
    with pytest.raises(InvalidPolicy) as caught:
        policy_from_text("at_risk:\n  min_days: 0\n")
    assert caught.value.status_code == 400
    body = caught.value.body()["error"]
    assert (body["code"], body["field"]) == ("invalid_policy", "at_risk.min_days")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("lapsed: [1, 2\n", "not valid YAML at line 2"),
        ("- 1\n- 2\n", "must be a mapping of settings, got list"),
        ("just words\n", "must be a mapping of settings, got str"),
    ],
)
def test_a_document_that_is_not_a_policy_is_refused(text, says):
    with pytest.raises(InvalidPolicy) as caught:
        parse_document(text, "store-1.yaml")
    assert says in caught.value.message
    assert caught.value.field == ""


def test_a_broken_store_file_fails_for_that_store_only(tmp_path: Path):
    (tmp_path / "bad.yaml").write_text("at_risk:\n  min_days: 0\n")
    files = PolicyFiles(tmp_path)
    with pytest.raises(InvalidPolicy) as caught:
        files.for_store("bad")
    assert (caught.value.source, caught.value.field) == ("bad.yaml", "at_risk.min_days")
    assert files.for_store("good") == default_policy()


def test_check_validates_every_store_file(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("new:\n  days: 14\n")
    (tmp_path / "b.yaml").write_text("vip:\n  enter_percentile: 95\n  leave_percentile: 85\n")
    found = PolicyFiles(tmp_path).check()
    assert (found["a"].new.days, found["b"].vip.enter_percentile) == (14, 95)
    (tmp_path / "c.yaml").write_text("vip:\n  leave_percentile: 99\n")
    with pytest.raises(InvalidPolicy) as caught:
        PolicyFiles(tmp_path).check()
    assert caught.value.source == "c.yaml"


def test_store_ids_that_are_not_file_names_get_the_default(tmp_path: Path):
    (tmp_path / "x.yaml").write_text("new:\n  days: 1\n")
    files = PolicyFiles(tmp_path)
    for store_id in ("../x", ".x", "a/b", ""):
        assert files.path_for(store_id) is None
        assert files.for_store(store_id) == default_policy()


def test_policies_are_cached_until_reloaded(tmp_path: Path):
    files = PolicyFiles(tmp_path)
    assert files.for_store("s").new.days == 30
    (tmp_path / "s.yaml").write_text("new:\n  days: 7\n")
    assert files.for_store("s").new.days == 30
    files.reload()
    assert files.for_store("s").new.days == 7


def test_no_directory_means_the_default_for_everyone():
    assert PolicyFiles(None).for_store("store-1") == default_policy()
    assert PolicyFiles(None).check() == {}


def test_the_policy_is_immutable():
    policy: LifecyclePolicy = default_policy()
    with pytest.raises(ValueError):
        policy.new.days = 1  # type: ignore[misc]


def test_the_readme_example_override_is_valid():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    example = readme.split("(`policies/store-furniture.yaml`):\n\n```yaml\n", 1)[1].split("```", 1)[0]
    policy = policy_from_text(example, "store-furniture.yaml")
    assert (policy.lapsed.min_days, policy.vip.enter_percentile, policy.neutral.rfm_total_at_most) == (365, 95, None)
    with pytest.raises(InvalidPolicy) as caught:
        policy_from_text("at_risk:\n  min_days: 120\n", "store-furniture.yaml")
    assert caught.value.message == (
        "invalid lifecycle policy store-furniture.yaml: lapsed.min_days: must be at least at_risk.min_days (120), "
        "got 90: a customer is at risk before lapsed"
    )
