"""From a step to send to its finished content: locale, template context, links and headers.

The composer adds what every message has to the flow's own view (`domain.content`): the store,
the customer's first name, the message's ids, the reply-to address, the coupon, the signed
unsubscribe link (marketing email) and the survey link. It picks the template locale (the
customer's, then the store's default, then English) and the formatting locale (the customer's,
else the store's), and gives marketing email its `List-Unsubscribe` headers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from boomerang.messenger.domain.contacts import Contact
from boomerang.messenger.domain.content import Formats
from boomerang.messenger.domain.coupons import Coupon, OfferKind
from boomerang.messenger.domain.flows import Channel, Purpose, Step
from boomerang.messenger.domain.locales import candidates, formatting_locale
from boomerang.messenger.domain.messages import Rendered
from boomerang.messenger.domain.stores import StoreProfile
from boomerang.messenger.service_layer.ports import Renderer
from boomerang.shared import links
from boomerang.shared.links import LinkSettings

ONE_CLICK = ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")


@dataclass(frozen=True)
class Draft:
    """One step of one flow for one customer, before rendering."""

    store_id: str
    customer_id: str
    flow: str
    purpose: Purpose
    step: Step  # on the channel it goes out on
    message_id: str
    contact: Contact | None
    view: dict[str, Any]  # the flow's part of the context (domain.content.flow_view)
    coupon: Coupon | None = None


@dataclass(frozen=True)
class Composed:
    rendered: Rendered
    headers: tuple[tuple[str, str], ...]
    reply_to: str
    unsubscribe_url: str | None


def list_unsubscribe(https_url: str, mailto: str | None = None) -> tuple[tuple[str, str], ...]:
    """RFC 2369 and RFC 8058 headers: the mail client's unsubscribe button POSTs to the URL."""
    targets = [f"<{https_url}>"]
    if mailto:
        targets.append(f"<mailto:{mailto}>")
    return (("List-Unsubscribe", ", ".join(targets)), ONE_CLICK)


class Composer:
    def __init__(
        self,
        renderer: Renderer,
        stores: Callable[[str], StoreProfile],
        links_settings: LinkSettings | None = None,
        unsubscribe_mailto: str | None = None,
    ) -> None:
        self._renderer = renderer
        self._stores = stores
        self._links = links_settings
        self._mailto = unsubscribe_mailto

    def store(self, store_id: str) -> StoreProfile:
        return self._stores(store_id)

    def formats(self, store_id: str, contact: Contact | None) -> Formats:
        """How this customer's amounts and dates are written (for building the flow's view)."""
        store = self._stores(store_id)
        locale = formatting_locale(contact.locale if contact else None, store.default_locale)
        return Formats(locale, (contact.timezone if contact else None) or store.default_timezone)

    def compose(self, draft: Draft) -> Composed:
        """Raises LinkKeyMissing for marketing email when no signing key is configured: such a
        message may not go out without a working unsubscribe link."""
        store = self._stores(draft.store_id)
        contact = draft.contact
        fmt = self.formats(draft.store_id, contact)
        unsubscribe = self._link(links.UNSUBSCRIBE, draft, required=True) if _needs_unsubscribe(draft) else None
        view = {
            **draft.view,
            "store": {"name": store.name, "url": store.url, "postal_address": store.postal_address},
            "customer": {"first_name": contact.first_name if contact else None},
            "message": {
                "id": draft.message_id,
                "flow": draft.flow,
                "step": draft.step.name,
                "channel": draft.step.channel.value,
                "purpose": draft.purpose.value,
            },
            "reply_to": store.reply_to,
            "unsubscribe_url": unsubscribe,
            "survey_url": self._link(links.SURVEY, draft, required=False),
            "coupon": coupon_view(draft.coupon, fmt),
        }
        locales = candidates(contact.locale if contact else None, store.default_locale)
        rendered = self._renderer.render(draft.step, view, locales)
        headers = list_unsubscribe(unsubscribe, self._mailto) if unsubscribe and _is_email(draft) else ()
        return Composed(rendered, headers, store.reply_to, unsubscribe)

    def _link(self, purpose: str, draft: Draft, required: bool) -> str | None:
        if self._links is None or (not required and self._links.signing_key is None):
            if required:
                raise links.LinkKeyMissing("marketing email needs link settings for its unsubscribe link")
            return None
        link = links.SignedLink(
            purpose, draft.store_id, draft.customer_id, draft.step.channel.value, draft.message_id
        )
        return links.url(self._links.base_url, self._links.key(), link)


def coupon_view(coupon: Coupon | None, fmt: Formats) -> dict[str, Any] | None:
    if coupon is None:
        return None
    return {
        "code": coupon.code,
        "kind": coupon.kind.value,
        "percent": coupon.percent,
        "free_shipping": coupon.kind is OfferKind.FREE_SHIPPING,
        "expires_on": fmt.day(coupon.expires_at),
    }


def _is_email(draft: Draft) -> bool:
    return draft.step.channel is Channel.EMAIL


def _needs_unsubscribe(draft: Draft) -> bool:
    # SMS is left with STOP, which every marketing SMS says; a receipt is owed, not subscribed to.
    return draft.purpose is Purpose.MARKETING and _is_email(draft)
