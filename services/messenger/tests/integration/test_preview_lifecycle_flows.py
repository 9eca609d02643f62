"""`boomerang-messenger preview` renders the milestone, date and replenishment flows' steps, on
every channel they have, in English and German, and sends nothing."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from boomerang.messenger.entrypoints.cli import cli

pytestmark = pytest.mark.integration
EXPECTED = {
    ("vip_milestone", "email"): "Order number 10",
    ("birthday", "email"): "Happy birthday, Ada!",
    ("birthday", "sms"): "Happy birthday, Ada!",
    ("purchase_anniversary", "email"): "Colombia Huila",
    ("replenishment", "email"): "Running low on Ethiopia Yirgacheffe",
    ("replenishment", "sms"): "Running low on Ethiopia Yirgacheffe",
}


@pytest.mark.parametrize(("flow", "channel"), sorted(EXPECTED))
@pytest.mark.parametrize("locale", ["en", "de"])
def test_each_step_renders_for_a_sample_customer(flow: str, channel: str, locale: str, tmp_path) -> None:
    env = {
        "BOOMERANG_MESSENGER_DATABASE_URL": f"sqlite:///{tmp_path / 'absent.db'}",
        "BOOMERANG_LINK_SIGNING_KEY": "preview-test-key",
        "BOOMERANG_MESSENGER_SENDGRID_BASE_URL": "http://127.0.0.1:9",  # nothing listens: a send would fail
    }
    args = ["preview", "--store", "s1", "--customer", "c1", "--flow", flow, "--channel", channel, "--locale", locale]
    result = CliRunner().invoke(cli, args, env=env)

    assert result.exit_code == 0, result.output
    assert "Preview only: nothing was sent or stored." in result.output
    if locale == "en":
        assert EXPECTED[(flow, channel)] in result.output
    else:
        assert "Locale:   de (templates)" in result.output
    assert not (tmp_path / "absent.db").exists()


def test_a_stored_customers_anniversary_shows_their_first_order_and_the_products_a_send_would(tmp_path) -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    from boomerang.messenger.adapters.customer_orders import SqlCustomerOrders
    from boomerang.messenger.adapters.recommendations import SqlRecommendations
    from boomerang.messenger.adapters.store import SqlContacts
    from boomerang.messenger.domain.contacts import Contact
    from boomerang.messenger.migrations import upgrade
    from boomerang.shared.db import make_engine
    from boomerang.shared.events import OrderLine, OrderPlaced

    url = f"sqlite:///{tmp_path / 'messenger.db'}"
    upgrade(url)
    engine = make_engine(url)
    SqlContacts(engine).save(Contact("s1", "c-7", email="grete@example.com", email_consent=True, first_name="Grete"))
    for customer, order_id, product, at in (
        ("c-7", "o-1", "house-blend", datetime(2024, 9, 14, 10, tzinfo=UTC)),
        ("c-8", "o-2", "winter-roast", datetime(2024, 10, 1, 10, tzinfo=UTC)),
    ):
        line = OrderLine(product_id=product, name=product.replace("-", " ").title(), category="coffee",
                         unit_price=Decimal("9"), url=f"https://shop.example/{product}")  # fmt: skip
        placed = OrderPlaced(order_id=order_id, placed_at=at, total=Decimal("9"), lines=[line])
        SqlRecommendations(engine).record_order("s1", customer, placed, at)
        SqlCustomerOrders(engine).record_order("s1", customer, placed)
    engine.dispose()
    env = {"BOOMERANG_MESSENGER_DATABASE_URL": url, "BOOMERANG_LINK_SIGNING_KEY": "preview-test-key"}

    result = CliRunner().invoke(
        cli, ["preview", "--store", "s1", "--customer", "c-7", "--flow", "purchase_anniversary"], env=env
    )

    assert result.exit_code == 0, result.output
    assert "On September 14, 2024 you placed your first order with us." in result.output
    assert "Winter Roast" in result.output and "House Blend" not in result.output
    assert "Colombia Huila" not in result.output  # the real products, not the samples
