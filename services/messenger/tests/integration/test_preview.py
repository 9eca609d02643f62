"""`boomerang-messenger preview` against a real SQLite store: it renders, and sends and stores nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from boomerang.messenger.adapters.store import SqlContacts, SqlCoupons, SqlSendLedger
from boomerang.messenger.domain.contacts import Contact
from boomerang.messenger.domain.coupons import Offer, OfferKind
from boomerang.messenger.domain.messages import idempotency_key, message_id_for
from boomerang.messenger.domain.stores import StoreProfile
from boomerang.messenger.entrypoints.cli import cli
from boomerang.messenger.migrations import upgrade
from boomerang.messenger.service_layer import coupons as coupon_service
from boomerang.shared.db import make_engine

pytestmark = pytest.mark.integration
GRETE = Contact(
    "kontor", "c-7", email="grete@example.com", email_consent=True, locale="de_DE",
    timezone="Europe/Berlin", first_name="Grete",
)


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'messenger.db'}"
    upgrade(url)
    engine = make_engine(url)
    SqlContacts(engine).save(GRETE)
    engine.dispose()
    return url


def run(database_url: str, *args: str):
    env = {
        "BOOMERANG_MESSENGER_DATABASE_URL": database_url,
        "BOOMERANG_MESSENGER_STORES": json.dumps({"kontor": {"name": "Kaffee Kontor", "reply_to": "hallo@kontor.example"}}),
        "BOOMERANG_LINK_SIGNING_KEY": "preview-test-key",
        "BOOMERANG_LINK_BASE_URL": "https://feedback.kontor.example",
        "BOOMERANG_MESSENGER_SENDGRID_BASE_URL": "http://127.0.0.1:9",  # nothing listens: a send would fail
    }
    return CliRunner().invoke(cli, ["preview", *args], env=env)


def test_a_stored_customer_gets_their_language_name_coupon_and_headers(database: str, tmp_path: Path) -> None:
    html = tmp_path / "win_back.html"

    result = run(database, "--store", "kontor", "--customer", "c-7", "--flow", "win_back", "--html", str(html))

    assert result.exit_code == 0, result.output
    out = result.output
    assert "contact card from the messenger store" in out and "To:       grete@example.com" in out
    assert "Subject:  Wir vermissen Sie: 15 % Rabatt auf Ihre nächste Bestellung" in out
    assert "Reply-To: hallo@kontor.example" in out
    assert "List-Unsubscribe: <https://feedback.kontor.example/v1/unsubscribe?s=kontor&c=c-7&ch=email" in out
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in out
    assert "Wir vermissen Sie, Grete." in out
    assert "Coupon:   KNTR-SAVE-" in out and "new: not stored" in out
    assert '<html lang="de">' in html.read_text() and "Grete" in html.read_text()
    assert '<body style="margin: 0;' in html.read_text()  # styled as it is sent


def test_a_preview_sends_and_stores_nothing(database: str) -> None:
    for flow in ("win_back", "receipt", "vip_welcome"):
        assert run(database, "--store", "kontor", "--customer", "c-7", "--flow", flow).exit_code == 0

    engine = make_engine(database)
    key = idempotency_key("kontor", "c-7", "win_back", "we_miss_you", "preview")
    assert SqlSendLedger(engine).stats() == []
    assert SqlCoupons(engine).for_key(key) is None
    engine.dispose()


def test_the_coupon_already_issued_for_the_message_is_shown(database: str) -> None:
    engine = make_engine(database)
    key = idempotency_key("kontor", "c-7", "win_back", "last_chance", "preview")
    issued = coupon_service.issue(
        SqlCoupons(engine), Offer(OfferKind.FREE_SHIPPING, 7), StoreProfile("kontor", "K", "u", "r"),
        customer_id="c-7", idempotency_key=key, message_id=message_id_for(key), flow="win_back",
        timezone="UTC", now=datetime.now(UTC),
    )
    engine.dispose()

    result = run(database, "--store", "kontor", "--customer", "c-7", "--flow", "win_back", "--step", "last_chance")

    assert f"Coupon:   {issued.code}" in result.output and "issued for this message" in result.output
    assert issued.code in result.output.split("\n\n", 1)[1]  # in the message itself


def test_a_trigger_event_from_a_file_is_what_the_receipt_shows(database: str, tmp_path: Path) -> None:
    order = {
        "order_id": "A-5521",
        "placed_at": "2025-03-01T10:00:00Z",
        "currency": "EUR",
        "total": "19.80",
        "lines": [{"product_id": "mug", "name": "Kontor Mug", "quantity": 2, "unit_price": "9.90"}],
    }
    trigger = tmp_path / "order.json"
    trigger.write_text(json.dumps(order))

    result = run(database, "--store", "kontor", "--customer", "c-7", "--flow", "receipt", "--trigger-json", str(trigger))

    assert result.exit_code == 0, result.output
    assert "Subject:  Ihre Bestellbestätigung für Bestellung A-5521" in result.output
    assert "2 x Kontor Mug zu 9,90\u00a0€ = 19,80\u00a0€" in result.output
    assert "List-Unsubscribe" not in result.output  # a receipt is transactional


def test_an_unknown_customer_gets_a_sample_and_inputs_can_be_given_by_name(database: str, tmp_path: Path) -> None:
    campaign = tmp_path / "campaign.json"
    campaign.write_text(json.dumps({"campaign": {
        "subject": "Frisch geröstet: unsere Winterbohnen",
        "heading": "Der Winter ist da",
        "paragraphs": ["Ab heute gibt es unsere Winterbohnen."],
    }}))

    result = run(
        database, "--store", "kontor", "--customer", "someone-new", "--flow", "broadcast", "--locale", "de",
        "--trigger-json", str(campaign),
    )

    assert result.exit_code == 0, result.output
    assert "sample customer" in result.output
    assert "Subject:  Frisch geröstet: unsere Winterbohnen" in result.output
    assert "Der Winter ist da" in result.output and "Ausgewählt:" in result.output


def test_mistakes_are_reported_not_rendered(database: str, tmp_path: Path) -> None:
    unknown = run(database, "--store", "kontor", "--customer", "c-7", "--flow", "win_bak")
    assert unknown.exit_code == 2 and "no flow 'win_bak'; there are: birthday" in unknown.output

    wrong_channel = run(database, "--store", "kontor", "--customer", "c-7", "--flow", "feedback_request", "--channel", "sms")
    assert wrong_channel.exit_code == 2 and "goes by email, not sms" in wrong_channel.output

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"order_id": "x"}))
    invalid = run(database, "--store", "kontor", "--customer", "c-7", "--flow", "receipt", "--trigger-json", str(bad))
    assert invalid.exit_code == 2 and "placed_at" in invalid.output


def test_a_missing_database_is_not_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"

    result = run(url, "--store", "kontor", "--customer", "c-7", "--flow", "birthday", "--channel", "sms")

    assert result.exit_code == 0, result.output
    assert "Kaffee Kontor: Happy birthday, Ada!" in result.output
    assert not (tmp_path / "none.db").exists()
