"""A ledger entry left pending by a crash is settled by asking the provider (the sandbox)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from boomerang.messenger.adapters.rendering import TemplateRenderer
from boomerang.messenger.adapters.sendgrid import Sender, SendGridEmail
from boomerang.messenger.adapters.store import LedgerRow, SqlContacts, SqlSendLedger
from boomerang.messenger.adapters.twilio import TwilioSms
from boomerang.messenger.bootstrap import utc_now
from boomerang.messenger.domain.flows import Channel
from boomerang.messenger.domain.messages import State
from boomerang.messenger.migrations import upgrade
from boomerang.messenger.service_layer.composing import Composer
from boomerang.messenger.service_layer.delivery import Delivery
from boomerang.messenger.service_layer.handlers import Messenger
from boomerang.shared.db import make_engine
from boomerang.shared.events import CustomerIdentified, Envelope, OrderPlaced

pytestmark = pytest.mark.integration
NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


class Crash(BaseException):
    """The process dying: nothing after it runs, nothing catches it."""


class CrashingProvider:
    """The real provider adapter, with the process dying just before or just after the call."""

    def __init__(self, provider, after_send: bool) -> None:
        self.name = provider.name
        self.lookup_lag = provider.lookup_lag
        self._provider = provider
        self._after_send = after_send

    async def send(self, message):
        if self._after_send:
            await self._provider.send(message)
        raise Crash()

    async def find(self, entry, sent_since):
        return await self._provider.find(entry, sent_since)


class DroppedOutcomes:
    async def publish(self, envelopes: list[Envelope]) -> None:
        pass  # the crashed process never published anything that matters here


def envelopes(channel: Channel) -> list[Envelope]:
    if channel is Channel.EMAIL:
        contact = CustomerIdentified(email="ada@example.com")
    else:
        contact = CustomerIdentified(phone="+14155550100", sms_marketing_consent=True)
    placed = OrderPlaced(order_id="o-9", placed_at=NOW, total=Decimal("9.50"))
    return [
        Envelope.wrap(contact, store_id="s1", customer_id="c9", source="test", time=NOW, id="id-c9"),
        Envelope.wrap(placed, store_id="s1", customer_id="c9", source="test", time=NOW, id="ev-o-9"),
    ]


@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.SMS])
@pytest.mark.parametrize("provider_has_it", [True, False], ids=["sent-before-crash", "crash-before-send"])
async def test_a_pending_entry_is_settled_without_sending_twice(
    channel, provider_has_it, sandbox, messenger_settings, run_messenger, send_commerce, wait_for
) -> None:
    settings = messenger_settings
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    ledger = SqlSendLedger(engine)
    email = SendGridEmail(
        settings.sendgrid_api_key, sandbox.url, Sender("r@shop.example", "Shop", "s@shop.example")
    )
    sms = TwilioSms(settings.twilio_account_sid, settings.twilio_auth_token, sandbox.url, settings.sms_from)
    providers = {Channel.EMAIL: email, Channel.SMS: sms}
    providers[channel] = CrashingProvider(providers[channel], after_send=provider_has_it)
    delivery = Delivery(ledger, providers, DroppedOutcomes(), utc_now)
    crashed = Messenger(SqlContacts(engine), delivery, Composer(TemplateRenderer(), settings.store), utc_now)
    identified, placed = envelopes(channel)
    await crashed.handle(identified)
    with pytest.raises(Crash):
        await crashed.handle(placed)
    await sms.close()
    await email.close()
    (pending,) = [e for e in map(ledger.get, ledger_keys(engine)) if e.state is State.PENDING]
    assert len(sandbox.outbox()) == (1 if provider_has_it else 0)

    async with run_messenger(settings):
        await send_commerce([identified, placed])  # the redelivery after the restart
        await wait_for(lambda: ledger.get(pending.key).state is State.SENT)

    assert len(sandbox.outbox(provider="sendgrid" if channel is Channel.EMAIL else "twilio")) == 1
    settled = ledger.get(pending.key)
    assert settled.attempts == 2 and settled.duplicate_hits == 0
    assert settled.provider_message_id
    engine.dispose()


def ledger_keys(engine) -> list[str]:
    with Session(engine) as session:
        return list(session.exec(select(LedgerRow.key)))
