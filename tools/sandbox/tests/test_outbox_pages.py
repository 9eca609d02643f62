"""The outbox as people and tests see it, and its survival across restarts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Mail
from twilio.rest import Client

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import RunningSandbox


def send(sandbox: RunningSandbox, to: str, subject: str, html: str = "<p>Hello</p>") -> None:
    mail = Mail("hello@shop.example", to, subject, plain_text_content="Hello in text", html_content=html)
    SendGridAPIClient("SG.key", host=sandbox.url).send(mail)


def test_html_page_lists_newest_first_with_links(sandbox: RunningSandbox, twilio_client: Client) -> None:
    send(sandbox, "ada@example.com", "First <mail>")
    twilio_client.messages.create(to="+447700900123", from_="+15005550006", body="An SMS body")

    page = sandbox.get("/outbox")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "First &lt;mail&gt;" in html and "First <mail>" not in html
    assert html.index("An SMS body") < html.index("First &lt;mail&gt;")
    [mail] = sandbox.outbox(provider="sendgrid")
    assert f'href="/outbox/{mail["id"]}"' in html


def test_message_page_frames_the_html_body(sandbox: RunningSandbox) -> None:
    send(sandbox, "ada@example.com", "Framed", html="<h1>Sale</h1><script>alert(1)</script>")
    [mail] = sandbox.outbox()

    detail = sandbox.get(f"/outbox/{mail['id']}")
    body = sandbox.get(f"/outbox/{mail['id']}/body.html")

    assert detail.status_code == 200
    assert f'<iframe sandbox src="/outbox/{mail["id"]}/body.html"' in detail.text
    assert "Hello in text" in detail.text
    assert body.text == "<h1>Sale</h1><script>alert(1)</script>"
    assert body.headers["content-security-policy"] == "sandbox"
    assert sandbox.get("/outbox/nope").status_code == 404


def test_json_listing_filters_and_clears(sandbox: RunningSandbox, twilio_client: Client) -> None:
    send(sandbox, "ada@example.com", "One")
    send(sandbox, "bob@example.com", "Two")
    twilio_client.messages.create(to="+447700900123", from_="+15005550006", body="Three")

    negotiated = sandbox.get("/outbox", headers={"Accept": "application/json"}).json()
    assert negotiated["count"] == 3
    assert [m["subject"] for m in negotiated["messages"]] == [None, "Two", "One"]
    assert [m["subject"] for m in sandbox.outbox(to="ADA@example.com")] == ["One"]
    assert [m["text"] for m in sandbox.outbox(provider="twilio")] == ["Three"]

    assert httpx.delete(sandbox.url + "/outbox").status_code == 204
    assert sandbox.get("/outbox.json").json() == {"messages": [], "count": 0}


def test_outbox_file_survives_restart(start_sandbox: Any, tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    first: RunningSandbox = start_sandbox(outbox_path=path)
    send(first, "ada@example.com", "Kept")

    second: RunningSandbox = start_sandbox(outbox_path=path)

    [kept] = second.outbox()
    assert kept == first.outbox()[0]
    assert kept["subject"] == "Kept"
    httpx.delete(second.url + "/outbox")
    assert start_sandbox(outbox_path=path).outbox() == []
