"""What a receipt says: lines, totals, currency, escaping, and a short SMS."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from boomerang.messenger.adapters.rendering import TemplateRenderer
from boomerang.messenger.domain.contacts import Contact
from boomerang.messenger.domain.flows import RECEIPT
from boomerang.messenger.domain.receipt import money
from boomerang.shared.events import OrderLine, OrderPlaced

EMAIL, SMS = RECEIPT.steps


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
def renderer() -> TemplateRenderer:
    return TemplateRenderer()


def test_email_has_subject_text_and_html_with_every_line_and_the_totals(renderer: TemplateRenderer) -> None:
    content = renderer.render(EMAIL, RECEIPT.view(order(), Contact("s", "c", first_name="Ada")))

    assert content.subject == "Your receipt for order 1001"
    assert "Thank you, Ada!" in content.text
    assert "3 x Cup @ $21.50 = $64.50" in content.text
    assert "Total: $1,269.50" in content.text
    assert "Tax" not in content.text  # zero amounts are left out
    assert '<a href="https://shop.example/cup">Cup</a>' in content.html
    assert "$1,269.50" in content.html


def test_html_is_escaped_and_text_is_not(renderer: TemplateRenderer) -> None:
    content = renderer.render(EMAIL, RECEIPT.view(order(), None))

    assert "Espresso &lt;Machine&gt; &amp; co" in content.html
    assert "<Machine>" not in content.html
    assert "Espresso <Machine> & co" in content.text


def test_amounts_and_dates_follow_the_customers_locale_and_time_zone(renderer: TemplateRenderer) -> None:
    contact = Contact("s", "c", locale="de_DE", timezone="Europe/Berlin")

    content = renderer.render(EMAIL, RECEIPT.view(order(currency="EUR"), contact))

    assert "1.269,50\u00a0€" in content.text
    assert "02.03.2025, 00:30:00" in content.text  # 23:30 UTC is past midnight in Berlin


def test_sms_is_one_short_gsm_segment(renderer: TemplateRenderer) -> None:
    contact = Contact("s", "c", locale="fr_FR")

    text = renderer.render(SMS, RECEIPT.view(order(currency="EUR"), contact)).text

    assert text == "Thanks for your order 1001! Total 1 269,50 € for 4 items. Reply STOP to opt out."
    assert len(text) <= 160
    assert "\u00a0" not in text and "\u202f" not in text


def test_unknown_currencies_still_render() -> None:
    assert money(Decimal("12.5"), "XYZ") in {"XYZ12.50", "12.50 XYZ"}
