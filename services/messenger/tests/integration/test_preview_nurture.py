"""`boomerang-messenger preview` of the nurture series shows what a real send would: the store's
guides, picked by the stored customer's categories."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from boomerang.messenger.adapters.recommendations import SqlRecommendations
from boomerang.messenger.adapters.store import SqlContacts
from boomerang.messenger.domain.contacts import Contact
from boomerang.messenger.entrypoints.cli import cli
from boomerang.messenger.migrations import upgrade
from boomerang.shared.db import make_engine
from boomerang.shared.events import OrderLine, OrderPlaced, ProductViewed

pytestmark = pytest.mark.integration
AT = datetime(2025, 3, 1, 12, tzinfo=UTC)
GUIDES = """guides:
  - {title: "Where to start with jazz", summary: "Five records.", url: guides/jazz, category: Jazz}
  - {title: "Rock for beginners", summary: "Loud.", url: guides/rock, category: Rock}
  - {title: "Caring for your CDs", summary: "Cases and cleaning.", url: guides/cd-care}
"""


def preview(tmp_path: Path, customer: str) -> str:
    flows = tmp_path / "flows" / "s1"
    flows.mkdir(parents=True, exist_ok=True)
    (flows / "neutral_nurture.yaml").write_text(GUIDES)
    env = {
        "BOOMERANG_MESSENGER_DATABASE_URL": f"sqlite:///{tmp_path / 'messenger.db'}",
        "BOOMERANG_MESSENGER_FLOWS_DIR": str(tmp_path / "flows"),
        "BOOMERANG_MESSENGER_STORE_URL": "https://cds.example",
        "BOOMERANG_LINK_SIGNING_KEY": "preview-test-key",
    }
    args = ["preview", "--store", "s1", "--customer", customer, "--flow", "neutral_nurture"]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_stored_customer_sees_the_guides_of_their_categories(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'messenger.db'}"
    upgrade(url)
    engine = make_engine(url)
    SqlContacts(engine).save(Contact("s1", "c-7", email="grete@example.com", email_consent=True, first_name="Grete"))
    line = OrderLine(product_id="cd-1", name="Kind of Blue", category="Jazz", unit_price=Decimal("12"))
    known = SqlRecommendations(engine)
    known.record_order("s1", "c-7", OrderPlaced(order_id="o-1", placed_at=AT, total=Decimal("12"), lines=[line]), AT)
    known.record_view("s1", "c-7", ProductViewed(product_id="cd-3", category="Hip-Hop"))
    engine.dispose()

    shown = preview(tmp_path, "c-7")

    assert "You have been looking at Jazz and hip-hop" in shown
    assert "Read the guide: https://cds.example/guides/jazz?utm_source=boomerang" in shown
    assert "Caring for your CDs" in shown
    assert "Rock for beginners" not in shown
    assert "Dialling in your grind" not in shown  # the store's guides, not the samples


def test_a_sample_customer_sees_the_stores_general_guides(tmp_path) -> None:
    shown = preview(tmp_path, "c-unknown")

    assert "sample customer" in shown
    assert "Caring for your CDs" in shown
    assert "Where to start with jazz" not in shown and "Rock for beginners" not in shown
