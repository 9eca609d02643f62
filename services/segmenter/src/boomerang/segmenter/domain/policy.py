"""The lifecycle policy: every threshold of the lifecycle states, per store, validated.

The values live in YAML files, not here: `policies/default.yaml` (shipped in the package,
documented line by line) and, per store, an override that lists only what it changes. This
module holds the schema (pydantic), the merge and the validation; reading files is
`adapters.policy_files`. The models have no defaults on purpose: the default file is the one
place the defaults are written, and a document missing a setting is an error.

`build_policy(default, override)` merges the override over the default key by key (nested
sections merge, any other value replaces, `null` switches an optional rule off) and validates
the result. Every problem is reported with the dotted path of its setting
(`lapsed.min_days: ...`) in one `InvalidPolicy`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from boomerang.shared.errors import BadRequest
from boomerang.shared.rules import FieldRule as _Rule, describe_error


class InvalidPolicy(BadRequest):
    """A policy document that cannot be used; `errors` holds every (field path, message)."""

    code = "invalid_policy"

    def __init__(self, source: str, errors: list[tuple[str, str]]) -> None:
        self.source = source
        self.errors = tuple(errors)
        listed = "; ".join(f"{path}: {message}" if path else message for path, message in errors)
        super().__init__(f"invalid lifecycle policy {source}: {listed}", field=errors[0][0] if errors else None)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _days(value: float) -> timedelta:
    return timedelta(days=value)


class NewRule(_Section):
    days: float = Field(gt=0, description="a customer is new for this many days after their first order")

    @property
    def period(self) -> timedelta:
        return _days(self.days)


class Horizon(_Section):
    """When a customer who stopped ordering reaches a stage (at risk, lapsed).

    A repeat buyer: `intervals` x their median gap between orders, bounded by `min_days` and
    `max_days`. A one-time buyer (BG/NBD's p_alive is always 1 for them, so it cannot say):
    `one_time_buyer_days` after their only order.
    """

    intervals: float = Field(gt=0, description="multiples of the customer's median gap between orders")
    min_days: float = Field(gt=0, description="never sooner than this after the last order")
    max_days: float = Field(gt=0, description="never later than this after the last order")
    one_time_buyer_days: float = Field(gt=0, description="for a customer who bought once: days after that order")

    @model_validator(mode="after")
    def _bounds_in_order(self) -> Horizon:
        if self.max_days < self.min_days:
            raise _Rule("max_days", f"must be at least min_days ({self.min_days:g}), got {self.max_days:g}")
        return self

    def after(self, median_gap: timedelta | None) -> timedelta:
        """How long after the last order the stage starts, for a customer with this cadence."""
        if median_gap is None:
            return _days(self.one_time_buyer_days)
        return min(max(median_gap * self.intervals, _days(self.min_days)), _days(self.max_days))


class ReactivatedRule(_Section):
    days: float = Field(gt=0, description="a lapsed customer who orders again is reactivated for this many days")

    @property
    def period(self) -> timedelta:
        return _days(self.days)


class NeutralRule(_Section):
    engaged_within_days: float | None = Field(
        gt=0,
        description="past the at-risk horizon but visited or clicked (after the last order) within this many days: "
        "neutral, not at risk; null: no such rule",
    )
    rfm_total_at_most: int | None = Field(
        ge=3,
        le=15,
        description="within their usual pace, R + F + M (3-15) at most this: neutral, not active; null: no such rule",
    )

    @property
    def engaged_within(self) -> timedelta | None:
        return None if self.engaged_within_days is None else _days(self.engaged_within_days)


class RevenueFallback(_Section):
    """VIP by net revenue, while the store has no fitted scoring model (no CLV percentile)."""

    enter_net_revenue: Decimal = Field(ge=0)
    leave_net_revenue: Decimal = Field(ge=0)

    @model_validator(mode="after")
    def _leave_below_enter(self) -> RevenueFallback:
        if self.leave_net_revenue > self.enter_net_revenue:
            raise _Rule(
                "leave_net_revenue",
                f"must be at most enter_net_revenue ({self.enter_net_revenue}), got {self.leave_net_revenue}",
            )
        return self


class VipRule(_Section):
    enter_percentile: float = Field(ge=0, le=100, description="predicted 365-day CLV percentile to become VIP")
    leave_percentile: float = Field(ge=0, le=100, description="a VIP stays VIP until below this percentile")
    min_orders: int = Field(ge=1, description="orders a customer needs to be VIP")
    without_scores: RevenueFallback | None = Field(
        description="before the store's first scoring model: VIP by net revenue; null: nobody enters or leaves"
    )

    @model_validator(mode="after")
    def _leave_below_enter(self) -> VipRule:
        if self.leave_percentile > self.enter_percentile:
            raise _Rule(
                "leave_percentile",
                f"must be at most enter_percentile ({self.enter_percentile:g}), got {self.leave_percentile:g}; "
                "the gap between the two keeps customers near the line from flapping",
            )
        return self


_ORDERED = ("intervals", "min_days", "max_days", "one_time_buyer_days")


class LifecyclePolicy(_Section):
    version: Literal[1]
    new: NewRule
    at_risk: Horizon
    lapsed: Horizon
    reactivated: ReactivatedRule
    neutral: NeutralRule
    vip: VipRule

    @model_validator(mode="after")
    def _at_risk_before_lapsed(self) -> LifecyclePolicy:
        for name in _ORDERED:
            risk, lapsed = getattr(self.at_risk, name), getattr(self.lapsed, name)
            if lapsed < risk:
                raise _Rule(
                    f"lapsed.{name}",
                    f"must be at least at_risk.{name} ({risk:g}), got {lapsed:g}: a customer is at risk before lapsed",
                )
        return self


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` over `base`: sections (mappings) merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def build_policy(
    default: Mapping[str, Any], override: Mapping[str, Any] | None = None, *, source: str = "(default)"
) -> LifecyclePolicy:
    """The policy of a store: `override` (None: none) merged over `default`, validated.

    Raises InvalidPolicy naming every offending setting by its path; `source` says which
    document in the message (a store's override file, usually).
    """
    document = merge(default, override) if override else dict(default)
    try:
        return LifecyclePolicy.model_validate(document)
    except ValidationError as exc:
        raise InvalidPolicy(source, [describe_error(error) for error in exc.errors()]) from None
