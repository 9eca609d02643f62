"""What a receipt says: lines, totals, currency, escaping, inlined CSS, and a short SMS."""

import pickle
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from boomerang.messenger.adapters.rendering import StyleInliner, TemplateRenderer
from boomerang.messenger.domain.contacts import Contact
from boomerang.messenger.domain.flows import RECEIPT
from boomerang.messenger.domain.messages import Rendered
from boomerang.messenger.domain.receipt import money
from boomerang.messenger.domain.stores import StoreProfile
from boomerang.messenger.service_layer.composing import Composer, Draft
from boomerang.shared.events import OrderLine, OrderPlaced

EMAIL, SMS = RECEIPT.steps
UTM = "utm_source=boomerang&amp;utm_medium=email&amp;utm_campaign=receipt&amp;utm_content=email"


def order(**overrides) -> OrderPlaced:
    fields = dict(
        order_id="1001",
        placed_at=datetime(2025, 3, 1, 23, 30, tzinfo=UTC),
        currency="USD",
        subtotal=Decimal("1264.50"),
        shipping=Decimal("5.00"),
        tax=Decimal("0"),
        total=Decimal("1269.50"),
        lines=[
            OrderLine(
                product_id="p1", name="Espresso <Machine> & co", quantity=1, unit_price=Decimal("1200.00")
            ),
            OrderLine(
                product_id="p2",
                name="Cup",
                quantity=3,
                unit_price=Decimal("21.50"),
                url="https://shop.example/cup",
            ),
        ],
    )
    return OrderPlaced(**(fields | overrides))


@pytest.fixture(scope="module")
def composer() -> Composer:
    store = StoreProfile("s", "Kaffee Kontor", "https://shop.example", "hallo@shop.example")
    return Composer(TemplateRenderer(), lambda store_id: store)


def receipt(composer: Composer, step, placed: OrderPlaced, contact: Contact | None) -> Rendered:
    draft = Draft("s", "c", "receipt", RECEIPT.purpose, step, "m-1", contact, RECEIPT.view(placed, contact))
    return composer.compose(draft).rendered


def test_email_has_subject_text_and_html_with_every_line_and_the_totals(composer: Composer) -> None:
    content = receipt(composer, EMAIL, order(), Contact("s", "c", first_name="Ada"))

    assert content.subject == "Your receipt for order 1001"
    assert "Thank you, Ada!" in content.text
    assert "3 x Cup @ $21.50 = $64.50" in content.text
    assert "Total: $1,269.50" in content.text
    assert "Tax" not in content.text  # zero amounts are left out
    assert "hallo@shop.example" in content.text  # where a reply goes, said in the footer
    assert f'href="https://shop.example/cup?{UTM}"' in content.html
    assert "$1,269.50" in content.html


def test_html_is_escaped_and_text_is_not(composer: Composer) -> None:
    content = receipt(composer, EMAIL, order(), None)

    assert "Espresso &lt;Machine&gt; &amp; co" in content.html
    assert "<Machine>" not in content.html
    assert "Espresso <Machine> & co" in content.text


def test_the_html_names_classes_and_the_styles_are_inlined_where_it_is_sent(composer: Composer) -> None:
    html = receipt(composer, EMAIL, order(), None).html
    styles = StyleInliner.of()

    assert 'style="' not in html and '<th class="num">' in html
    sent = styles(html)
    assert '<body style="margin: 0;' in sent
    assert '<th class="num" style="padding: 6px 4px;border-bottom: 1px solid #d1d5db;text-align: right;' in sent
    # Only what cannot be inlined stays in a <style>: the media query for small screens.
    assert sent.count("<style>") == 1 and "@media" in sent
    assert pickle.loads(pickle.dumps(styles))(html) == sent  # as the SDK process would get it


def test_amounts_and_dates_follow_the_customers_locale_and_time_zone(composer: Composer) -> None:
    contact = Contact("s", "c", locale="de_DE", timezone="Europe/Berlin")

    content = receipt(composer, EMAIL, order(currency="EUR"), contact)

    assert "1.269,50\u00a0€" in content.text
    assert "02.03.2025, 00:30:00" in content.text  # 23:30 UTC is past midnight in Berlin
    assert content.locale == "de" and content.subject == "Ihre Bestellbestätigung für Bestellung 1001"


def test_sms_is_one_short_gsm_segment(composer: Composer) -> None:
    contact = Contact("s", "c", locale="fr_FR")

    text = receipt(composer, SMS, order(currency="EUR"), contact).text

    # No French templates: English words, French amounts (the customer's own conventions).
    assert text == (
        "Kaffee Kontor: Thanks for your order 1001! Total 1 269,50 € for 4 items. Reply STOP to opt out."
    )
    assert len(text) <= 160
    assert "\u00a0" not in text and "\u202f" not in text


def test_unknown_currencies_still_render() -> None:
    assert money(Decimal("12.5"), "XYZ") in {"XYZ12.50", "12.50 XYZ"}


def test_a_views_keys_are_found_its_missing_keys_are_errors_and_dict_methods_still_work() -> None:
    from jinja2 import StrictUndefined, UndefinedError

    from boomerang.messenger.adapters.rendering import _ViewEnvironment

    env = _ViewEnvironment(undefined=StrictUndefined)
    view = {"order": {"id": "1001", "items": 3}, "labels": {"a": 1, "b": 2}}

    assert env.from_string("{{ order.id }} {{ order.items }} {{ labels.items()|list|length }}").render(view) == "1001 3 2"
    with pytest.raises(UndefinedError):
        env.from_string("{{ order.total }}").render(view)
