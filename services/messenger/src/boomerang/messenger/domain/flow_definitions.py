"""Flows as data: the schema of a flow file, the per-store override, and the validation.

A flow is one YAML document (`flows/<name>.yaml` in the package for the default set; a store's
own directory for its overrides, see `boomerang.messenger.flows`). This module holds the schema
(pydantic), the override merge and the error reporting; it reads no files.

A flow says what starts it (`trigger`), who it is for (`audience`), when it may go out (`delay`,
`send_window`), what it sends (`steps`, each on one of its `channels` in preference order, with
a `template` and an optional `offer`), what stops it (`exit`), how it ranks against other flows
(`priority`, higher wins) and whether it is `transactional` or `marketing` (consent, caps and the
`holdout_percent` control group, 10 by default for marketing, always 0 for transactional).
`guides` lists the store's guides and tutorials (title, summary, url, optional category and
step) that `content: by_category` steps pick from by the customer's categories.

A store's override of a flow is merged over the default flow of the same name
(`merge_override`): mappings merge key by key (so `steps`, keyed by step name, merge step by
step), lists and single values replace, `null` removes a setting (back to its built-in default,
or a step dropped, or no send window). A mapping whose `kind` differs (another trigger, another
offer) replaces instead of merging. `replace: true` makes the file a whole flow on its own, and
`enabled: false` switches a flow off. Every problem is reported as (file, dotted field path,
message) in one `InvalidFlow`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

import boomerang.shared.events  # noqa: F401  (registers every event type)
from boomerang.messenger.domain.content import Guide
from boomerang.messenger.domain.flows import Channel, Flow, Purpose, Step, View
from boomerang.messenger.domain.timing import LocalWindow
from boomerang.shared.errors import BadRequest
from boomerang.shared.rules import FieldRule as _Rule, describe_error
from boomerang.shared.events import Event, OrderPlaced, SegmentChanged

# The segmenter's segments, per dimension (customer.segments.v1). Repeated here because the
# services share events, not code; a trigger naming anything else is a typo.
SEGMENTS: dict[str, tuple[str, ...]] = {
    "lifecycle": ("prospect", "new", "active", "neutral", "at_risk", "lapsed", "reactivated"),
    "value": ("vip", "regular"),
}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_TEMPLATE = re.compile(r"[a-z0-9_]+(/[a-z0-9_]+)*")
_DURATION = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?")
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
DEFAULT_MARKETING_HOLDOUT = 10.0


class InvalidFlow(BadRequest):
    """Flow documents that cannot be used; `errors` holds every (file, field path, message)."""

    code = "invalid_flow"

    def __init__(self, errors: Iterable[tuple[str, str, str]]) -> None:
        self.errors = tuple(errors)
        listed = "; ".join(
            f"{source}: {path}: {message}" if path else f"{source}: {message}"
            for source, path, message in self.errors
        )
        first = self.errors[0][1] if self.errors else None
        super().__init__(f"invalid flow files: {listed}", field=first or None)


# --- value types a shop owner writes -----------------------------------------------------------


def parse_duration(value: Any) -> timedelta:
    """`30m`, `4h`, `3d`, `2w`, `1d12h` (or 0) as a timedelta."""
    if isinstance(value, timedelta):
        return value
    if value == 0 and not isinstance(value, bool):
        return timedelta(0)
    if isinstance(value, str):
        text = value.replace(" ", "").lower()
        match = _DURATION.fullmatch(text)
        if text and match and any(match.groups()):
            weeks, days, hours, minutes = (int(part or 0) for part in match.groups())
            return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)
        if text == "0":
            return timedelta(0)
    raise ValueError("must be a duration like 30m, 4h, 3d, 2w or 1d12h")


def parse_clock(value: Any) -> time:
    """`"08:00"` as a local time of day."""
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 21:00 as the base-60 number 1260.
        raise ValueError('write times in quotes, like "21:00" (YAML reads 21:00 unquoted as a number)')
    if isinstance(value, str) and (match := _CLOCK.fullmatch(value.strip())):
        return time(int(match[1]), int(match[2]))
    raise ValueError('must be a local time like "08:00" or "21:30"')


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Clock = Annotated[time, BeforeValidator(parse_clock)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _known_events() -> dict[str, type[Event]]:
    found: dict[str, type[Event]] = {}
    pending = list(Event.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "event_type" in cls.__dict__:
            found[cls.event_type] = cls
    return found


def _check_event(event: str, field: str = "event") -> type[Event]:
    known = _known_events()
    if event not in known:
        raise _Rule(field, f"unknown event type {event!r}; known: {', '.join(sorted(known))}")
    return known[event]


def _check_segment(segment: str, dimension: str | None, field: str) -> None:
    allowed = SEGMENTS[dimension] if dimension else tuple(s for names in SEGMENTS.values() for s in names)
    if segment not in allowed:
        where = f"the {dimension} dimension" if dimension else "any dimension"
        raise _Rule(field, f"unknown segment {segment!r} in {where}; known: {', '.join(allowed)}")


# --- triggers ----------------------------------------------------------------------------------


class EventTrigger(_Section):
    """An event starts the flow at once (an order placed: the receipt)."""

    kind: Literal["event"]
    event: str = Field(description="the event type, e.g. commerce.order.placed")
    instance: str = Field(description="the event's field naming one trigger instance, e.g. order_id")

    @model_validator(mode="after")
    def _known(self) -> EventTrigger:
        _check_instance(_check_event(self.event), self.instance)
        return self


class AfterEventTrigger(_Section):
    """A set time after an event (a checkout started 4 h ago, an order placed 7 days ago)."""

    kind: Literal["after_event"]
    event: str
    instance: str
    after: Duration

    @model_validator(mode="after")
    def _known(self) -> AfterEventTrigger:
        _check_instance(_check_event(self.event), self.instance)
        if self.after <= timedelta(0):
            raise _Rule("after", "must be longer than 0; use kind: event for at once")
        return self


def _check_instance(event_class: type[Event], instance: str) -> None:
    if instance not in event_class.model_fields:
        fields = ", ".join(event_class.model_fields)
        raise _Rule("instance", f"{event_class.event_type} has no field {instance!r}; it has: {fields}")


class SegmentTrigger(_Section):
    """The customer enters a segment (`to`), optionally only coming from some (`from`)."""

    kind: Literal["segment"]
    to: str
    from_: tuple[str, ...] | None = Field(default=None, alias="from")
    dimension: Literal["lifecycle", "value"] | None = None

    @model_validator(mode="after")
    def _known(self) -> SegmentTrigger:
        _check_segment(self.to, self.dimension, "to")
        for segment in self.from_ or ():
            _check_segment(segment, self.dimension or self.dimension_of(self.to), "from")
        return self

    @staticmethod
    def dimension_of(segment: str) -> str | None:
        return next((dim for dim, names in SEGMENTS.items() if segment in names), None)

    def matches(self, change: SegmentChanged) -> bool:
        dimension = self.dimension or self.dimension_of(self.to)
        if change.dimension is not None and change.dimension != dimension:
            return False
        if change.to_segment != self.to:
            return False
        return self.from_ is None or change.from_segment in self.from_


class DateTrigger(_Section):
    """Every year on the customer's birthday or first-purchase day, at `at` in their time zone."""

    kind: Literal["date"]
    date: Literal["birthday", "first_purchase"]
    at: Clock = time(9, 0)


class MilestoneTrigger(_Section):
    """An order that takes the customer to their Nth order or past a spend threshold."""

    kind: Literal["milestone"]
    orders: tuple[Annotated[int, Field(ge=2)], ...] = ()
    net_revenue: tuple[Annotated[Decimal, Field(gt=0)], ...] = ()

    @model_validator(mode="after")
    def _names_a_milestone(self) -> MilestoneTrigger:
        if not self.orders and not self.net_revenue:
            raise _Rule("orders", "name at least one milestone (orders or net_revenue)")
        return self

    def reached(
        self, orders_before: int, orders_after: int, spent_before: Decimal, spent_after: Decimal
    ) -> bool:
        """Whether an order that took the customer from the befores to the afters crosses one."""
        return any(orders_before < n <= orders_after for n in self.orders) or any(
            spent_before < amount <= spent_after for amount in self.net_revenue
        )


class ReplenishmentTrigger(_Section):
    """A product bought `min_purchases` times or more is due again by the customer's own
    interval (the median gap between their purchases of it); remind `remind_before` that."""

    kind: Literal["replenishment"]
    min_purchases: int = Field(default=2, ge=2)
    remind_before: Duration = timedelta(days=3)


class BroadcastTrigger(_Section):
    """An operator starts it for a segment (a seasonal campaign); the audience says who."""

    kind: Literal["broadcast"]


Trigger = Annotated[
    EventTrigger
    | AfterEventTrigger
    | SegmentTrigger
    | DateTrigger
    | MilestoneTrigger
    | ReplenishmentTrigger
    | BroadcastTrigger,
    Field(discriminator="kind"),
]
# Tagged unions: pydantic puts the tag in error paths (trigger.segment.to); we leave it out.
_TAGGED = {"trigger", "offer"}
_TAGS = {
    *("event", "after_event", "segment", "date", "milestone", "replenishment", "broadcast"),
    *("percent", "free_shipping"),
}


def started_by(trigger: Any) -> str | None:
    """The event type that starts a flow with this trigger; None for the clock or an operator."""
    if isinstance(trigger, EventTrigger | AfterEventTrigger):
        return trigger.event
    if isinstance(trigger, SegmentTrigger):
        return SegmentChanged.event_type
    if isinstance(trigger, MilestoneTrigger | ReplenishmentTrigger):
        return OrderPlaced.event_type
    return None


# --- audience, timing, steps, exit ---------------------------------------------------------------


class Audience(_Section):
    """Who the flow is for; every condition given must hold (see `domain.audience`)."""

    segments_any: tuple[str, ...] = ()  # in at least one of these
    segments_none: tuple[str, ...] = ()  # in none of these
    min_orders: int | None = Field(default=None, ge=0)
    max_orders: int | None = Field(default=None, ge=0)
    min_net_revenue: Decimal | None = Field(default=None, ge=0)
    categories_any: tuple[str, ...] = ()  # bought or viewed one of these

    @model_validator(mode="after")
    def _consistent(self) -> Audience:
        for field in ("segments_any", "segments_none"):
            for segment in getattr(self, field):
                _check_segment(segment, None, field)
        if self.min_orders is not None and self.max_orders is not None and self.max_orders < self.min_orders:
            raise _Rule(
                "max_orders", f"must be at least min_orders ({self.min_orders}), got {self.max_orders}"
            )
        return self


class SendWindow(_Section):
    """When the flow may send, in the customer's time zone: from `start` to `end`, on `days`."""

    start: Clock
    end: Clock
    days: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] = WEEKDAYS

    @model_validator(mode="after")
    def _opens_before_closing(self) -> SendWindow:
        if self.end <= self.start:
            raise _Rule("end", f"must be after start ({self.start:%H:%M}), got {self.end:%H:%M}")
        if not self.days:
            raise _Rule("days", "name at least one day")
        return self

    def window(self) -> LocalWindow:
        return LocalWindow(self.start, self.end, frozenset(WEEKDAYS.index(day) for day in self.days))


class PercentOff(_Section):
    kind: Literal["percent"]
    percent: int = Field(ge=1, le=100)
    expires_in_days: int = Field(ge=1, le=365)


class FreeShipping(_Section):
    kind: Literal["free_shipping"]
    expires_in_days: int = Field(ge=1, le=365)


Offer = Annotated[PercentOff | FreeShipping, Field(discriminator="kind")]


class StepDefinition(_Section):
    """One message of the flow, sent `delay` after the previous step (the first: after the
    flow's start), on the first of `channels` the customer can be reached on."""

    channels: tuple[Channel, ...] = Field(min_length=1)
    template: str = Field(description="e.g. win_back/we_miss_you: the renderer adds /<channel>")
    subject: str | None = None  # email only, a Jinja2 expression over the step's view
    delay: Duration = timedelta(0)
    offer: Offer | None = None  # a unique coupon per recipient
    # A step nobody can be reached for is left out instead of reported as suppressed.
    optional: bool = False
    # fixed: the same content for all; by_category: the customer's categories, bought or viewed,
    # and the flow's `guides` of those categories (then general ones) go to the template
    content: Literal["fixed", "by_category"] = "fixed"

    @model_validator(mode="after")
    def _consistent(self) -> StepDefinition:
        if len(set(self.channels)) != len(self.channels):
            raise _Rule("channels", "lists a channel twice")
        if not _TEMPLATE.fullmatch(self.template):
            raise _Rule("template", f"must be a path like win_back/we_miss_you, got {self.template!r}")
        if Channel.EMAIL in self.channels and not (self.subject or "").strip():
            raise _Rule("subject", "an email step needs a subject")
        if Channel.EMAIL not in self.channels and self.subject is not None:
            raise _Rule("subject", "only email has a subject")
        if self.delay < timedelta(0):
            raise _Rule("delay", "cannot be negative")
        return self

    def template_for(self, channel: Channel) -> str:
        return f"{self.template}/{channel.value}"


class ExitConditions(_Section):
    """What stops a flow for a customer once started: no further step is sent."""

    events: tuple[str, ...] = ()  # e.g. commerce.order.placed: stop the series on a purchase
    left_segment: bool = False  # segment flows: stop when the customer leaves the segment

    @model_validator(mode="after")
    def _known(self) -> ExitConditions:
        for event in self.events:
            _check_event(event, "events")
        return self


class FlowDefinition(_Section):
    name: str
    description: str = Field(min_length=1)
    enabled: bool = True
    purpose: Purpose
    priority: int = Field(ge=0, le=100, description="higher wins a frequency-cap conflict")
    trigger: Trigger
    audience: Audience = Audience()
    delay: Duration = timedelta(0)
    send_window: SendWindow | None = None
    steps: dict[str, StepDefinition] = Field(min_length=1)
    exit: ExitConditions = ExitConditions()
    holdout_percent: float = Field(ge=0, le=50)
    # The store's guides and tutorials, for `content: by_category` steps (see domain.content).
    guides: tuple[Guide, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _default_holdout(cls, data: Any) -> Any:
        # The default depends on the purpose: 10 % of a marketing flow's audience is held out.
        if isinstance(data, Mapping) and data.get("holdout_percent") is None:
            purpose = data.get("purpose")
            default = DEFAULT_MARKETING_HOLDOUT if purpose == Purpose.MARKETING.value else 0.0
            return {**data, "holdout_percent": default}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> FlowDefinition:
        if not _NAME.fullmatch(self.name):
            raise _Rule("name", f"must be lower-case letters, digits and _, got {self.name!r}")
        for step in self.steps:
            if not _NAME.fullmatch(step):
                raise _Rule(f"steps.{step}", "a step name is lower-case letters, digits and _")
        if self.purpose is Purpose.TRANSACTIONAL and self.holdout_percent > 0:
            raise _Rule(
                "holdout_percent", "a transactional message is owed to the customer: it has no holdout"
            )
        if self.exit.left_segment and not isinstance(self.trigger, SegmentTrigger):
            raise _Rule("exit.left_segment", "only a flow started by a segment change can leave it")
        if self.delay < timedelta(0):
            raise _Rule("delay", "cannot be negative")
        for i, guide in enumerate(self.guides):
            if guide.step is not None and guide.step not in self.steps:
                steps = ", ".join(self.steps)
                raise _Rule(f"guides.{i}.step", f"the flow has no step {guide.step!r}; it has: {steps}")
        return self

    @property
    def starts_on(self) -> str | None:
        return started_by(self.trigger)

    def schedule(self, started_at: datetime) -> list[tuple[str, datetime]]:
        """When each step is due for a flow started at `started_at` (before windows and caps)."""
        due = started_at + self.delay
        if isinstance(self.trigger, AfterEventTrigger):
            due += self.trigger.after
        out = []
        for name, step in self.steps.items():
            due += step.delay
            out.append((name, due))
        return out

    def stops_on(self, event_type: str) -> bool:
        return event_type in self.exit.events


# --- documents, merge, validation ----------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    """One flow file's content; `source` names it in errors (e.g. `acme/win_back.yaml`)."""

    source: str
    data: Mapping[str, Any]


def merge_override(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` over `base`: mappings merge key by key, `null` removes, anything else replaces;
    a mapping with another `kind` (a different trigger or offer) replaces rather than merges."""
    out = dict(base)
    for key, value in override.items():
        current = out.get(key)
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(current, Mapping) and _same_kind(current, value):
            out[key] = merge_override(current, value)
        else:
            out[key] = value
    return out


def _same_kind(current: Mapping[str, Any], value: Mapping[str, Any]) -> bool:
    return "kind" not in value or current.get("kind") == value["kind"]


def build_flow(name: str, default: Document | None, override: Document | None = None) -> FlowDefinition:
    """The flow `name`: the override merged over the default (either may be None), validated.

    Raises InvalidFlow naming the file and each offending field.
    """
    if default is None and override is None:
        raise ValueError(f"no document for flow {name!r}")
    source = (override or default).source  # type: ignore[union-attr]
    errors: list[tuple[str, str]] = []
    document = _compose(name, default, override, errors)
    if errors:
        raise InvalidFlow((source, path, message) for path, message in errors)
    try:
        return FlowDefinition.model_validate(document)
    except ValidationError as exc:
        raise InvalidFlow((source, *problem) for problem in _problems(exc)) from None


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    described = [(error["type"], *_describe(error)) for error in exc.errors()]
    # A list whose only item is invalid is also reported as too short: say the first only.
    return [
        (path, message)
        for kind, path, message in described
        if not (kind == "too_short" and any(other.startswith(f"{path}.") for _, other, _ in described))
    ]


def _compose(
    name: str, default: Document | None, override: Document | None, errors: list[tuple[str, str]]
) -> dict[str, Any]:
    data = dict(override.data if override else {})
    replace = data.pop("replace", False)
    if not isinstance(replace, bool):
        errors.append(("replace", f"must be true or false, got {replace!r}"))
    for document in (default, override):
        if document is not None and document.data.get("name", name) != name:
            errors.append(("name", f"must be the file's name, {name!r}, got {document.data['name']!r}"))
    if default is None or replace is True:
        document = data
    else:
        document = merge_override(default.data, data)
    return {**document, "name": name}


@dataclass(frozen=True)
class FlowSet:
    """A store's flows, enabled or not, highest priority first."""

    flows: tuple[FlowDefinition, ...]

    # A store's set is built once and asked on every event: its answers are kept with it.
    @cached_property
    def enabled(self) -> tuple[FlowDefinition, ...]:
        return tuple(flow for flow in self.flows if flow.enabled)

    @cached_property
    def _answers(self) -> dict[tuple[str, str], tuple[FlowDefinition, ...]]:
        return {}

    def get(self, name: str) -> FlowDefinition:
        for flow in self.flows:
            if flow.name == name:
                return flow
        raise KeyError(name)

    def names(self) -> list[str]:
        return [flow.name for flow in self.flows]

    def started_by(self, event_type: str) -> list[FlowDefinition]:
        if (found := self._answers.get(("start", event_type))) is None:
            found = self._answers[("start", event_type)] = tuple(
                flow for flow in self.enabled if flow.starts_on == event_type
            )
        return list(found)

    def stopped_by(self, event_type: str) -> list[FlowDefinition]:
        if (found := self._answers.get(("stop", event_type))) is None:
            found = self._answers[("stop", event_type)] = tuple(
                flow for flow in self.enabled if flow.stops_on(event_type)
            )
        return list(found)


def build_flows(
    defaults: Mapping[str, Document], overrides: Mapping[str, Document] | None = None
) -> FlowSet:
    """Every default flow with the store's overrides (by flow name) applied; overrides naming no
    default flow are flows of the store's own. Raises one InvalidFlow listing every problem."""
    overrides = overrides or {}
    flows: list[FlowDefinition] = []
    errors: list[tuple[str, str, str]] = []
    for name in sorted(set(defaults) | set(overrides)):
        try:
            flows.append(build_flow(name, defaults.get(name), overrides.get(name)))
        except InvalidFlow as exc:
            errors.extend(exc.errors)
    if errors:
        raise InvalidFlow(errors)
    flows.sort(key=lambda flow: (-flow.priority, flow.name))
    return FlowSet(tuple(flows))


def _describe(error: Any) -> tuple[str, str]:
    return describe_error(error, keep=lambda parts, i: not (i and parts[i - 1] in _TAGGED and parts[i] in _TAGS))


# --- onto the runtime flow the handlers run --------------------------------------------------------


def to_flow(definition: FlowDefinition, view: View) -> Flow:
    """The handler's `Flow` for an event-started definition: each step on its first channel
    (the others are `Step.fallback`), its template `<template>/<channel>`."""
    trigger = definition.trigger
    if not isinstance(trigger, EventTrigger | AfterEventTrigger):
        raise ValueError(f"flow {definition.name!r} is started by {trigger.kind}, not by one event")
    steps = tuple(
        Step(
            name=name,
            channel=step.channels[0],
            template=step.template_for(step.channels[0]),
            subject=step.subject,
            optional=step.optional,
            fallback=step.channels[1:],
        )
        for name, step in definition.steps.items()
    )
    return Flow(
        name=definition.name,
        trigger=trigger.event,
        trigger_id_field=trigger.instance,
        purpose=definition.purpose,
        steps=steps,
        view=view,
        definition=definition,
    )
