"""`boomerang-messenger preview`: any flow step, rendered for one customer, sent nowhere.

The customer's contact card comes from the messenger's store when it is there (read only: a
missing database is not created), else a sample customer. What the step shows comes from
`--trigger-json` when given (an envelope, the trigger event's payload, or MessageInputs
fields such as `{"campaign": {...}}`), over sample data for everything else. A step with an
offer shows the coupon already issued for this message, or a new code that is not stored. A
`content: by_category` step shows the flow's guides picked by the stored customer's categories
(bought or viewed), as a real send would.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.numbers import get_territory_currencies
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from boomerang.messenger.adapters.rendering import StyleInliner, TemplateRenderer
from boomerang.messenger.adapters.customer_orders import SqlCustomerOrders
from boomerang.messenger.adapters.recommendations import SqlRecommendations
from boomerang.messenger.adapters.store import SqlContacts, SqlCoupons
from boomerang.messenger.domain.contacts import Contact
from boomerang.messenger.domain.content import MessageInputs, by_category, flow_view
from boomerang.messenger.domain.coupons import Coupon, Offer, new_coupon
from boomerang.messenger.domain.customer_dates import FIRST_PURCHASE
from boomerang.messenger.domain.featured import featured
from boomerang.messenger.domain.flow_definitions import AfterEventTrigger, DateTrigger, EventTrigger, FlowDefinition
from boomerang.messenger.domain.flows import Channel, Step
from boomerang.messenger.domain.locales import formatting_locale
from boomerang.messenger.domain.messages import idempotency_key, message_id_for
from boomerang.messenger.domain.samples import sample_contact, sample_inputs
from boomerang.messenger.domain.timing import zone_for
from boomerang.messenger.flows import FlowFiles
from boomerang.messenger.service_layer.composing import Composed, Composer, Draft
from boomerang.messenger.settings import MessengerSettings
from boomerang.shared.db import make_engine
from boomerang.shared.events import Envelope, Event, event_class
from boomerang.shared.links import LinkSettings

PREVIEW_TRIGGER = "preview"


class PreviewError(ValueError):
    pass


@dataclass(frozen=True)
class Request:
    store_id: str
    customer_id: str
    flow: str
    step: str | None = None
    channel: str | None = None
    locale: str | None = None
    trigger_json: Path | None = None


@dataclass(frozen=True)
class Preview:
    flow: FlowDefinition
    step: Step
    contact: Contact
    contact_source: str
    to: str | None
    composed: Composed
    coupon: Coupon | None
    coupon_note: str | None
    notes: tuple[str, ...]

    def sent_html(self) -> str | None:
        """The HTML part as the email adapter sends it: with the stylesheet inlined."""
        html = self.composed.rendered.html
        return StyleInliner.of()(html) if html is not None else None

    def report(self) -> str:
        rendered = self.composed.rendered
        flow, step = self.flow, self.step
        lines = [
            "Preview only: nothing was sent or stored.",
            f"Flow:     {flow.name} ({flow.purpose.value}), step {step.name} on {step.channel.value}",
            f"Customer: {self.contact.customer_id} ({self.contact_source})",
            f"Locale:   {rendered.locale} (templates), {self.contact.locale or 'store default'} (customer)",
            f"To:       {self.to or '(no address on this channel)'}",
        ]
        if self.coupon is not None:
            until = f"{self.coupon.expires_at:%Y-%m-%d %H:%M} UTC"
            lines.append(f"Coupon:   {self.coupon.code}, until {until} ({self.coupon_note})")
        if rendered.subject is not None:
            lines.append(f"Subject:  {rendered.subject}")
        if self.step.channel is Channel.EMAIL:
            lines.append(f"Reply-To: {self.composed.reply_to}")
            lines += [f"{name}: {value}" for name, value in self.composed.headers]
        lines += [f"Note:     {note}" for note in self.notes]
        lines += ["", rendered.text.rstrip()]
        return "\n".join(lines)


def preview(settings: MessengerSettings, request: Request, now: datetime) -> Preview:
    definition = _flow(settings, request)
    step_name = request.step or next(iter(definition.steps))
    if step_name not in definition.steps:
        steps = ", ".join(definition.steps)
        raise PreviewError(f"flow {definition.name} has no step {step_name!r}; it has: {steps}")
    step_definition = definition.steps[step_name]
    channel = Channel(request.channel) if request.channel else step_definition.channels[0]
    if channel not in step_definition.channels:
        raise PreviewError(f"step {step_name} goes by {', '.join(step_definition.channels)}, not {channel.value}")
    step = Step(step_name, channel, step_definition.template_for(channel), subject=step_definition.subject)

    engine = _existing_database(settings.database_url)
    stored = _contact(engine, request.store_id, request.customer_id)
    contact = stored or sample_contact(request.store_id, request.customer_id)
    if request.locale:
        contact = replace(contact, locale=request.locale)
    store = settings.store(request.store_id)

    notes: list[str] = []
    link_settings = settings.links
    if link_settings.signing_key is None and definition.purpose.value == "marketing":
        link_settings = LinkSettings(signing_key=secrets.token_urlsafe(), base_url=link_settings.base_url)
        notes.append("BOOMERANG_LINK_SIGNING_KEY is not set: links are signed with a throwaway key")
    composer = Composer(TemplateRenderer(), settings.store, link_settings, settings.unsubscribe_mailto)

    currency = _currency(formatting_locale(contact.locale, store.default_locale))
    inputs, trigger_id = _inputs(request.trigger_json, definition, now, currency, store.url)
    if request.trigger_json is None and stored is not None:
        inputs = _from_the_record(engine, definition, contact, store.default_timezone, now, inputs)
    if request.trigger_json is None and step_definition.content == "by_category":
        # As a real send: the flow's guides, by the stored customer's categories (a sample's: samples).
        categories = _categories(engine, contact) if stored is not None else inputs.categories
        inputs = by_category(inputs, categories, definition.guides, store.url)
    if missing := inputs.missing_for(definition.name):
        raise PreviewError(f"flow {definition.name} needs {', '.join(missing)} in --trigger-json")
    key = idempotency_key(request.store_id, request.customer_id, definition.name, step_name, trigger_id)
    message_id = message_id_for(key)

    coupon, coupon_note = None, None
    if step_definition.offer is not None:
        coupon = _stored_coupon(engine, key)
        coupon_note = "issued for this message" if coupon else "new: not stored, a real send issues its own"
        coupon = coupon or new_coupon(
            Offer.of(step_definition.offer),
            prefix=store.coupon_code_prefix(),
            store_id=request.store_id,
            customer_id=request.customer_id,
            idempotency_key=key,
            message_id=message_id,
            flow=definition.name,
            timezone=contact.timezone or store.default_timezone,
            now=now,
            draw=secrets.token_bytes,
        )
    view = flow_view(inputs, composer.formats(request.store_id, contact), step_name, now)
    draft = Draft(
        request.store_id, request.customer_id, definition.name, definition.purpose, step,
        message_id, contact, view, coupon,
    )
    composed = composer.compose(draft)
    to = contact.email if channel is Channel.EMAIL else contact.phone
    source = "contact card from the messenger store" if stored else "sample customer: no contact card in the store"
    if engine is not None:
        engine.dispose()
    return Preview(definition, step, contact, source, to, composed, coupon, coupon_note, tuple(notes))


def _flow(settings: MessengerSettings, request: Request) -> FlowDefinition:
    flows = FlowFiles(settings.flows_dir).for_store(request.store_id)
    try:
        return flows.get(request.flow)
    except KeyError:
        raise PreviewError(f"no flow {request.flow!r}; there are: {', '.join(sorted(flows.names()))}") from None


def _from_the_record(
    engine, definition: FlowDefinition, contact: Contact, default_timezone: str, now: datetime, inputs: MessageInputs
) -> MessageInputs:
    """A stored customer's anniversary shows their own first order and the products the real send
    would feature (see `service_layer.lifecycle_triggers`); anything missing stays sample data."""
    trigger = definition.trigger
    if not (isinstance(trigger, DateTrigger) and trigger.date == FIRST_PURCHASE):
        return inputs
    try:
        record = SqlCustomerOrders(engine)
        first = record.first_purchase(contact.store_id, contact.customer_id)
        known = record.discoveries(contact.store_id, contact.customer_id)
    except SQLAlchemyError:  # an older database without the record: samples
        return inputs
    if first is None:
        return inputs
    picked = featured(known.candidates, known.first_seen, known.interests, known.bought, now)
    zone = zone_for(contact.timezone, default_timezone)
    update: dict[str, Any] = {"first_order_on": first.astimezone(zone).date()}
    if picked:
        update["products"] = [p.as_product() for p in picked]
    return inputs.model_copy(update=update)


def _categories(engine, contact: Contact) -> list[str]:
    try:
        return SqlRecommendations(engine).categories_of(contact.store_id, contact.customer_id)
    except SQLAlchemyError:  # an older database without the recommendation tables: none known
        return []


def _existing_database(url: str):
    # A preview reads; it must not leave an empty SQLite file behind where none was.
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    return make_engine(url)


def _contact(engine, store_id: str, customer_id: str) -> Contact | None:
    if engine is None:
        return None
    try:
        return SqlContacts(engine).get(store_id, customer_id)
    except SQLAlchemyError:  # no tables yet: nothing stored
        return None


def _stored_coupon(engine, key: str) -> Coupon | None:
    if engine is None:
        return None
    try:
        return SqlCoupons(engine).for_key(key)
    except SQLAlchemyError:
        return None


def _currency(locale: str) -> str:
    """The sample's currency: the locale's country's (a bare `de` is most likely Germany)."""
    try:
        parsed = Locale.parse(locale)
        likely = get_global("likely_subtags").get(parsed.language)
        territory = parsed.territory or (Locale.parse(likely).territory if likely else None)
    except (ValueError, UnknownLocaleError):
        territory = None
    currencies = get_territory_currencies(territory) if territory else []
    return currencies[0] if currencies else "USD"


def _inputs(
    path: Path | None, definition: FlowDefinition, now: datetime, currency: str, shop: str
) -> tuple[MessageInputs, str]:
    inputs = sample_inputs(now, currency, shop)
    if path is None:
        return inputs, PREVIEW_TRIGGER
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PreviewError(f"{path}: not readable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PreviewError(f"{path}: must be a JSON object")
    try:
        return _apply(data, definition, inputs)
    except ValidationError as exc:
        raise PreviewError(f"{path}: {exc}") from None


def _apply(data: dict[str, Any], definition: FlowDefinition, inputs: MessageInputs) -> tuple[MessageInputs, str]:
    if {"type", "data"} <= data.keys():
        return _with_event(Envelope.model_validate(data).event(), definition, inputs)
    if data.keys() <= MessageInputs.model_fields.keys():
        given = MessageInputs.model_validate(data)
        update = {name: getattr(given, name) for name in given.model_fields_set}
        return inputs.model_copy(update=update), PREVIEW_TRIGGER
    if definition.starts_on is None:
        fields = ", ".join(MessageInputs.model_fields)
        raise PreviewError(f"flow {definition.name} has no trigger event; give any of: {fields}")
    return _with_event(event_class(definition.starts_on, 1).model_validate(data), definition, inputs)


def _with_event(event: Event, definition: FlowDefinition, inputs: MessageInputs) -> tuple[MessageInputs, str]:
    from_event = MessageInputs.from_event(event)
    update = {name: getattr(from_event, name) for name in ("order", "checkout") if getattr(from_event, name)}
    trigger = definition.trigger
    instance = trigger.instance if isinstance(trigger, EventTrigger | AfterEventTrigger) else None
    trigger_id = str(getattr(event, instance)) if instance and hasattr(event, instance) else PREVIEW_TRIGGER
    return inputs.model_copy(update=update), trigger_id
