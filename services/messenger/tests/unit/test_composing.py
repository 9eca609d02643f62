"""The composer: template locale, signed unsubscribe link and headers, reply-to; and the
SendGrid request those become."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest

from boomerang.messenger.adapters.rendering import TemplateRenderer
from boomerang.messenger.adapters.sendgrid import Sender, build_mail
from boomerang.messenger.domain import locales
from boomerang.messenger.domain.contacts import Contact
from boomerang.messenger.domain.coupons import Offer, OfferKind, new_coupon
from boomerang.messenger.domain.flows import Channel, Purpose, Step
from boomerang.messenger.domain.messages import Outbound
from boomerang.messenger.domain.receipt import receipt_view
from boomerang.messenger.domain.stores import StoreProfile
from boomerang.messenger.service_layer.composing import Composer, Draft
from boomerang.shared import links
from boomerang.shared.events import OrderLine, OrderPlaced
from boomerang.shared.links import LinkKeyMissing, LinkSettings

KEY = "composer-test-key"
SETTINGS = LinkSettings(signing_key=KEY, base_url="https://fb.shop.example")
STORES = {
    "acme": StoreProfile("acme", "Acme", "https://acme.example", "help@acme.example"),
    "kaufhaus": StoreProfile("kaufhaus", "Kaufhaus", "https://k.example", "hilfe@k.example", default_locale="de_DE"),
}
LAST_CHANCE = Step("last_chance", Channel.EMAIL, "win_back/last_chance/email", subject="Shipping is on us")
RECEIPT_SMS = Step("sms", Channel.SMS, "receipt/sms")


def composer(link_settings: LinkSettings | None = SETTINGS, mailto: str | None = None) -> Composer:
    return Composer(TemplateRenderer(), STORES.__getitem__, link_settings, mailto)


def draft(store: str = "acme", contact: Contact | None = None) -> Draft:
    view = {"order": None, "products": []}
    return Draft(store, "anon:c/1", "win_back", Purpose.MARKETING, LAST_CHANCE, "msg-1", contact, view)


def with_coupon(composer_: Composer, d: Draft):
    coupon = new_coupon(
        Offer(OfferKind.FREE_SHIPPING, 7), prefix="ACME", store_id=d.store_id, customer_id=d.customer_id,
        idempotency_key="k", message_id=d.message_id, flow=d.flow, timezone="UTC",
        now=datetime(2025, 3, 1, tzinfo=UTC), draw=lambda n: b"\x00" * n,
    )
    return composer_.compose(Draft(**{**d.__dict__, "coupon": coupon}))


def test_marketing_email_gets_one_click_unsubscribe_headers_with_a_signed_url() -> None:
    composed = with_coupon(composer(mailto="unsubscribe@acme.example"), draft())

    headers = dict(composed.headers)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = headers["List-Unsubscribe"].split(", ")
    assert https == f"<{composed.unsubscribe_url}>" and mailto == "<mailto:unsubscribe@acme.example>"
    url = urlsplit(composed.unsubscribe_url)
    assert (url.scheme, url.netloc, url.path) == ("https", "fb.shop.example", "/v1/unsubscribe")
    link = links.verify_unsubscribe(dict(parse_qsl(url.query)), [KEY.encode()])
    assert (link.store_id, link.customer_id, link.channel, link.message_id) == ("acme", "anon:c/1", "email", "msg-1")
    assert composed.reply_to == "help@acme.example"


def test_a_receipt_or_an_sms_has_no_unsubscribe_link_and_needs_no_key() -> None:
    receipt = composer(link_settings=None).compose(
        Draft("acme", "c1", "receipt", Purpose.TRANSACTIONAL, RECEIPT_SMS, "m", None, a_receipt_view())
    )
    assert receipt.headers == () and receipt.unsubscribe_url is None
    assert receipt.rendered.text.startswith("Acme: Thanks for your order 1001!")


def test_marketing_email_without_a_signing_key_is_refused() -> None:
    with pytest.raises(LinkKeyMissing):
        with_coupon(composer(link_settings=LinkSettings(signing_key=None)), draft())


@pytest.mark.parametrize(
    ("store", "customer_locale", "expected"),
    [
        ("acme", "de_AT", "de"),  # Austrian German falls back to German
        ("acme", "fr_FR", "en"),  # no French: the store's default (English)
        ("kaufhaus", "fr_FR", "de"),  # no French: the store's default (German)
        ("kaufhaus", None, "de"),
        ("acme", None, "en"),
    ],
)
def test_the_template_locale_falls_back_from_customer_to_store_to_english(
    store: str, customer_locale: str | None, expected: str
) -> None:
    contact = Contact(store, "c1", locale=customer_locale, first_name="Kim")

    assert with_coupon(composer(), draft(store, contact)).rendered.locale == expected


def test_locale_candidates() -> None:
    assert locales.candidates("de-at", "fr_CH") == ("de_AT", "de", "fr_CH", "fr", "en")
    assert locales.candidates(None, None) == ("en",)
    assert locales.candidates("en_GB", "en_US") == ("en_GB", "en", "en_US")
    assert locales.formatting_locale(None, "de_DE") == "de_DE"


def test_the_sendgrid_request_carries_headers_reply_to_and_message_id() -> None:
    composed = with_coupon(composer(), draft())
    message = Outbound(
        "msg-1", "acme", "anon:c/1", "win_back", "last_chance", Channel.EMAIL, "kim@example.com",
        composed.rendered.text, composed.rendered.subject, composed.rendered.html,
        headers=composed.headers, reply_to=composed.reply_to,
    )

    body = build_mail(message, Sender("news@acme.example", "Acme", "fallback@acme.example"), message.html).get()

    assert body["headers"] == {
        "List-Unsubscribe": f"<{composed.unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert body["reply_to"] == {"email": "help@acme.example"}
    assert body["from"] == {"email": "news@acme.example", "name": "Acme"}
    assert body["personalizations"][0]["custom_args"]["boomerang_message_id"] == "msg-1"
    assert body["categories"] == ["win_back"]
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]


def test_without_a_reply_to_of_its_own_the_sender_default_is_used() -> None:
    message = Outbound("m", "s", "c", "receipt", "email", Channel.EMAIL, "kim@example.com", "hi", "Hi")

    body = build_mail(message, Sender("r@shop.example", "Shop", "support@shop.example"), None).get()

    assert body["reply_to"] == {"email": "support@shop.example"} and "headers" not in body


def a_receipt_view() -> dict:
    order = OrderPlaced(
        order_id="1001",
        placed_at=datetime(2025, 3, 1, tzinfo=UTC),
        total=Decimal("10"),
        lines=[OrderLine(product_id="p", name="Cup", unit_price=Decimal("10"))],
    )
    return receipt_view(order, None)
