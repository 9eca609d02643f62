"""SendGrid's SDK over HTTPS, as in production: the sandbox behind TLS, certificates checked."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from boomerang.devstack.tls import self_signed_certificate
from boomerang.messenger.adapters.sendgrid import Sender, SendGridEmail
from boomerang.messenger.domain.flows import Channel
from boomerang.messenger.domain.messages import Outbound
from boomerang.messenger.service_layer.ports import ProviderError

pytestmark = pytest.mark.integration
SENDER = Sender("shop@shop.example", "Shop", "help@shop.example")


@pytest.fixture
def tls_sandbox(tmp_path: Path, serve_sandbox) -> Iterator[tuple[str, Path]]:
    """The provider sandbox over HTTPS; its URL and the certificate a client must trust."""
    cert, key = self_signed_certificate(tmp_path, "sandbox")
    with serve_sandbox(ssl_certfile=str(cert), ssl_keyfile=str(key)) as port:
        yield f"https://127.0.0.1:{port}", cert


def receipt(n: int) -> Outbound:
    return Outbound(
        message_id=f"m-{n}", store_id="s1", customer_id=f"c{n}", flow="receipt", step="send", channel=Channel.EMAIL,
        to=f"c{n}@example.com", text="Thanks", subject="Your order", html="<p>Thanks</p>",
    )


async def test_the_sdk_process_sends_over_https_to_a_provider_it_trusts(tls_sandbox, monkeypatch) -> None:
    url, cert = tls_sandbox
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the SDK process's environment keeps it
    email = SendGridEmail("SG.test", url, SENDER, threads=2)
    try:
        ids = [await email.send(receipt(n)) for n in range(3)]
    finally:
        await email.close()

    assert all(ids) and len(set(ids)) == 3


async def test_certificates_are_still_checked_with_the_shared_context(tls_sandbox, tmp_path, monkeypatch) -> None:
    url, _ = tls_sandbox
    stranger, _ = self_signed_certificate(tmp_path, "stranger")
    monkeypatch.setenv("SSL_CERT_FILE", str(stranger))  # trusts another certificate only
    email = SendGridEmail("SG.test", url, SENDER, threads=2)
    try:
        with pytest.raises(ProviderError) as refused:
            await email.send(receipt(1))
    finally:
        await email.close()

    assert refused.value.status is None and "CERTIFICATE_VERIFY_FAILED" in refused.value.reason


async def test_in_this_process_every_connection_gets_one_verifying_context(tls_sandbox, monkeypatch) -> None:
    url, cert = tls_sandbox
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    email = SendGridEmail("SG.test", url, SENDER, threads=2, in_process=True)
    try:
        assert await email.send(receipt(1))
    finally:
        await email.close()

    context = ssl._create_default_https_context()
    assert context is ssl._create_default_https_context()  # made once, not per connection
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
