"""Every step of every default flow, on each of its channels, in every locale we ship.

Rendered through the composer with the preview's sample data (a small coffee shop) for a
customer in Berlin, so each message is checked as the customer would get it: the right
language, the order, the coupon with its expiry, the links, the footer.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from html import unescape

import pytest

from boomerang.messenger.adapters.rendering import SMS_MAX_CHARS, TemplateRenderer
from boomerang.messenger.domain.content import flow_view
from boomerang.messenger.domain.coupons import Offer, new_coupon
from boomerang.messenger.domain.flows import Channel, Purpose, Step
from boomerang.messenger.domain.samples import sample_contact, sample_inputs
from boomerang.messenger.domain.stores import StoreProfile
from boomerang.messenger.flows import default_flows
from boomerang.messenger.service_layer.composing import Composed, Composer, Draft
from boomerang.shared.links import LinkSettings

NOW = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
STORE = StoreProfile(
    "kontor", "Kaffee Kontor", "https://kontor.example", "hallo@kontor.example", postal_address="Hafenstr. 1, Hamburg"
)
RENDERER = TemplateRenderer()
LOCALES = {"en": "en_US", "de": "de_DE"}
# GSM 03.38: the basic set and the extension table (which costs two characters but stays GSM).
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà" "^{}\\[~]|€"
)

# What each message must say, by flow and step, in English and German (email text and HTML).
EXPECTED: dict[tuple[str, str], dict[str, list[str]]] = {
    ("receipt", "email"): {
        "en": ["order 1042", "Ethiopia Yirgacheffe, 250 g", "€29.00", "€65.90", "March 17, 2025",
               "Goes well with your order", "Paper Filters, 100 pack"],
        "de": ["Bestellung 1042", "Ethiopia Yirgacheffe, 250 g", "29,00 €", "65,90 €", "17. März 2025",
               "Passt gut zu Ihrer Bestellung", "Paper Filters, 100 pack"],
    },
    ("checkout_abandonment", "reminder"): {
        "en": ["your cart is waiting", "Hand Grinder, Steel Burrs", "checkout/chk-7731/recover"],
        "de": ["Ihr Warenkorb wartet auf Sie", "Hand Grinder, Steel Burrs", "checkout/chk-7731/recover"],
    },
    ("vip_welcome", "welcome"): {
        "en": ["Welcome to our VIPs, Grete!", "ships free", "-SHIP-", "Valid until April 13, 2025"],
        "de": ["Willkommen bei unseren VIPs, Grete!", "kostenlos", "-SHIP-", "Gültig bis 13. April 2025"],
    },
    ("vip_milestone", "gift"): {
        "en": ["Order number 10", "10% off your next order", "-SAVE-"],
        "de": ["Ihre 10. Bestellung", "10 % Rabatt auf Ihre nächste Bestellung", "-SAVE-"],
    },
    ("win_back", "we_miss_you"): {
        "en": ["We miss you, Grete", "15% off your next order", "Valid until March 28, 2025", "Colombia Huila"],
        "de": ["Wir vermissen Sie, Grete", "15 % Rabatt", "Gültig bis 28. März 2025", "Colombia Huila"],
    },
    ("win_back", "last_chance"): {
        "en": ["Still thinking about it?", "shipping on your next order is on us", "-SHIP-", "March 21, 2025"],
        "de": ["Noch unentschlossen?", "übernehmen wir den Versand", "-SHIP-", "21. März 2025"],
    },
    ("replenishment", "reminder"): {
        "en": ["Running low on Ethiopia Yirgacheffe, 250 g?", "February 15, 2025", "/reorder/ethiopia-yirgacheffe"],
        "de": ["Geht Ethiopia Yirgacheffe, 250 g zur Neige?", "15. Februar 2025", "/reorder/ethiopia-yirgacheffe"],
    },
    ("birthday", "greeting"): {
        "en": ["Happy birthday, Grete!", "10% off anything you like", "-SAVE-"],
        "de": ["Alles Gute zum Geburtstag, Grete!", "10 % Rabatt auf alles", "-SAVE-"],
    },
    ("purchase_anniversary", "thank_you"): {
        "en": ["One year together", "March 14, 2024", "Colombia Huila, 250 g"],
        "de": ["Ein Jahr zusammen", "14. März 2024", "Colombia Huila, 250 g"],
    },
    ("feedback_request", "survey"): {
        "en": ["How was your order, Grete?", "order 1042", "/v1/survey?s=kontor", "Rate your order"],
        "de": ["Wie war Ihre Bestellung, Grete?", "Bestellung 1042", "/v1/survey?s=kontor", "Bestellung bewerten"],
    },
    ("neutral_nurture", "getting_started"): {
        "en": ["coffee and brewing gear", "Storing beans so they stay fresh", "Dialling in your grind"],
        "de": ["coffee und brewing gear", "Storing beans so they stay fresh", "Zum Ratgeber"],
    },
    ("neutral_nurture", "how_to"): {
        "en": ["A few ideas to try this week", "Dialling in your grind"],
        "de": ["Ein paar Ideen für diese Woche", "Dialling in your grind"],
    },
    ("neutral_nurture", "inspiration"): {
        "en": ["What other customers are making", "Our roasting calendar"],
        "de": ["Was andere Kundinnen und Kunden daraus machen", "Our roasting calendar"],
    },
    ("broadcast", "campaign"): {
        "en": ["A first taste of the holidays", "a week before everyone else", "collections/holiday", "Featured"],
        "de": ["A first taste of the holidays", "a week before everyone else", "collections/holiday", "Ausgewählt"],
    },
}
SMS_EXPECTED: dict[str, dict[str, str]] = {
    "receipt": {"en": "Thanks for your order 1042", "de": "Danke für Ihre Bestellung 1042"},
    "checkout_abandonment": {"en": "You left 1 item in your cart", "de": "noch 1 Artikel"},
    "vip_welcome": {"en": "ships free with code KNTR-SHIP-", "de": "mit dem Code KNTR-SHIP-"},
    "win_back": {"en": "15% off your next order with code KNTR-SAVE-", "de": "15 % Rabatt"},
    "replenishment": {"en": "Reorder in one click", "de": "Mit einem Klick nachbestellen"},
    "birthday": {"en": "Happy birthday, Grete!", "de": "Alles Gute zum Geburtstag, Grete!"},
}


def cases() -> list[tuple[str, str, Channel, str]]:
    found = []
    for flow in default_flows().flows:
        for step_name, step in flow.steps.items():
            for channel in step.channels:
                found += [(flow.name, step_name, channel, locale) for locale in RENDERER.locales]
    return found


def compose(flow_name: str, step_name: str, channel: Channel, locale: str) -> tuple[Composed, Purpose]:
    flow = default_flows().get(flow_name)
    step = flow.steps[step_name]
    contact = replace(
        sample_contact("kontor", "c-7"), first_name="Grete", locale=LOCALES[locale], timezone="Europe/Berlin"
    )
    links = LinkSettings(signing_key="test-key", base_url="https://feedback.kontor.example")
    composer = Composer(RENDERER, lambda store_id: STORE, links)
    coupon = None
    if step.offer is not None:
        coupon = new_coupon(
            Offer.of(step.offer),
            prefix=STORE.coupon_code_prefix(),
            store_id="kontor",
            customer_id="c-7",
            idempotency_key=f"kontor/c-7/{flow_name}/{step_name}/t1",
            message_id="m-1",
            flow=flow_name,
            timezone="Europe/Berlin",
            now=NOW,
            draw=lambda n: bytes(range(n)),
        )
    view = flow_view(sample_inputs(NOW, "EUR", STORE.url), composer.formats("kontor", contact), step_name, NOW)
    runtime = Step(step_name, channel, step.template_for(channel), subject=step.subject)
    draft = Draft("kontor", "c-7", flow_name, flow.purpose, runtime, "m-1", contact, view, coupon)
    return composer.compose(draft), flow.purpose


def test_we_ship_english_and_german() -> None:
    assert RENDERER.locales == ["de", "en"]
    emails = {(flow, step) for flow, step, channel, _ in cases() if channel is Channel.EMAIL}
    texts = {flow for flow, _, channel, _ in cases() if channel is Channel.SMS}
    assert emails == set(EXPECTED) and texts == set(SMS_EXPECTED)


@pytest.mark.parametrize(("flow", "step", "channel", "locale"), cases())
def test_every_step_renders_in_every_locale(flow: str, step: str, channel: Channel, locale: str) -> None:
    composed, purpose = compose(flow, step, channel, locale)
    rendered = composed.rendered

    assert rendered.locale == locale
    for part in (rendered.text, rendered.html or "", rendered.subject or ""):
        assert "None" not in part and "{{" not in part and "{%" not in part
    if channel is Channel.SMS:
        assert SMS_EXPECTED[flow][locale] in rendered.text
        assert len(rendered.text) <= SMS_MAX_CHARS
        assert set(rendered.text) <= GSM7, set(rendered.text) - GSM7
        assert "STOP" in rendered.text and rendered.text.startswith("Kaffee Kontor: ")
        return
    # Amounts carry no-break spaces in German ("29,00\u00a0€"); the phrases are written plainly.
    text = rendered.text.replace("\u00a0", " ")
    html_text = unescape(rendered.html or "").replace("\u00a0", " ")
    for phrase in EXPECTED[(flow, step)][locale]:
        assert phrase in text, phrase
        assert phrase in html_text, phrase
    assert f'<html lang="{locale}">' in (rendered.html or "")
    assert rendered.subject
    assert "hallo@kontor.example" == composed.reply_to
    assert "Hafenstr. 1, Hamburg" in rendered.text
    if purpose is Purpose.MARKETING:
        assert composed.unsubscribe_url and composed.unsubscribe_url in rendered.text
        assert composed.unsubscribe_url in html_text
    else:
        assert composed.unsubscribe_url is None and "/v1/unsubscribe" not in rendered.text


@pytest.mark.parametrize(("flow", "step"), [(f, s) for f, s in EXPECTED if f != "broadcast"])
def test_german_subjects_are_german(flow: str, step: str) -> None:
    english, _ = compose(flow, step, Channel.EMAIL, "en")
    german, _ = compose(flow, step, Channel.EMAIL, "de")

    assert english.rendered.subject != german.rendered.subject
    assert english.rendered.subject == default_flows().get(flow).steps[step].subject.replace(
        "{{ order.id }}", "1042"
    )


def test_a_coupon_subject_follows_the_offer_in_german() -> None:
    german, _ = compose("win_back", "we_miss_you", Channel.EMAIL, "de")

    assert german.rendered.subject == "Wir vermissen Sie: 15 % Rabatt auf Ihre nächste Bestellung"


def test_links_in_marketing_mail_carry_utm_tags_of_the_flow_and_step() -> None:
    composed, _ = compose("win_back", "we_miss_you", Channel.EMAIL, "en")

    assert (
        "https://kontor.example/products/colombia-huila?utm_source=boomerang&utm_medium=email"
        "&utm_campaign=win_back&utm_content=we_miss_you" in composed.rendered.text
    )
