"""Unsubscribe and survey pages over real HTTP, with the store on disk and the real broker."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from boomerang.devstack.kafka_broker import free_port
from boomerang.feedback.adapters.repository import SqlProviderEventStore
from boomerang.feedback.entrypoints.app import create_app
from boomerang.feedback.settings import FeedbackSettings
from boomerang.shared import links
from boomerang.shared.db import make_engine
from boomerang.shared.events import ProviderEventReceived, SurveyAnswered
from boomerang.shared.links import LinkSettings
from boomerang.shared.settings import CommonSettings

pytestmark = pytest.mark.integration
KEY = "integration-link-key"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'feedback.db'}"


@pytest.fixture
def settings_for(kafka_bootstrap, topic_prefix, sqlite_url):
    def make(bootstrap: str = kafka_bootstrap, **overrides) -> FeedbackSettings:
        values = {
            "database_url": sqlite_url,
            "links": LinkSettings(signing_key=KEY, previous_signing_keys="retired-key"),
            "relay_interval_s": 0.1,
            "relay_max_backoff_s": 0.5,
            "common": CommonSettings(kafka_bootstrap=bootstrap, topic_prefix=topic_prefix),
            **overrides,
        }
        return FeedbackSettings(**values)

    return make


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def unsubscribe_link(channel: str = "email", key: str = KEY, customer: str = "cust-42") -> str:
    return path_of(links.unsubscribe_url("http://x", key.encode(), "store-1", customer, channel, "m-1"))


def survey_link(survey: str = "nps", message: str = "m-1") -> str:
    return path_of(links.survey_url("http://x", KEY.encode(), "store-1", "cust-42", "email", message, survey))


def stored(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        return SqlProviderEventStore(engine).count()
    finally:
        engine.dispose()


async def test_one_click_unsubscribes_once_and_publishes_after_kafka_acked(
    settings_for, serve, database_url, feedback_topic
):
    """On SQLite and PostgreSQL; the mail client retries, and the customer clicks the page's button."""
    with serve(create_app(settings_for(database_url=database_url))) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            page = await http.get(unsubscribe_link())
            assert page.status_code == 200 and "text/html" in page.headers["content-type"]
            assert 'name="List-Unsubscribe" value="One-Click"' in page.text
            assert await feedback_topic.count() == 0  # looking is not unsubscribing

            first = await http.post(unsubscribe_link(), data=ONE_CLICK)
            assert first.status_code == 200, first.text
            assert first.json() == {"unsubscribed": True, "channel": "email", "duplicate": False}
            # Answered after the ack: the envelope is on the topic already.
            assert await feedback_topic.count() == 1

            again = await http.post(unsubscribe_link(), data=ONE_CLICK)
            assert again.json()["duplicate"] is True
            button = await http.post(
                unsubscribe_link(), data={**ONE_CLICK, "via": "page"}, headers={"Accept": "text/html"}
            )
            assert button.status_code == 200 and "unsubscribed" in button.text

            sms = await http.post(unsubscribe_link("sms"), data=ONE_CLICK)
            assert sms.json()["channel"] == "sms"
            # A link signed with the previous key still works after rotation.
            old = await http.post(unsubscribe_link(key="retired-key", customer="cust-7"), data=ONE_CLICK)
            assert old.status_code == 200
    records = await feedback_topic.read(3)
    assert await feedback_topic.count() == 3
    by_customer = {}
    for key, envelope in records:
        event = envelope.event()
        assert isinstance(event, ProviderEventReceived) and event.kind == "unsubscribe"
        by_customer.setdefault(key, []).append(event.provider)
    assert by_customer == {"store-1:cust-42": ["sendgrid", "twilio"], "store-1:cust-7": ["sendgrid"]}
    assert stored(database_url) == 3


async def test_forged_incomplete_and_unconfirmed_unsubscribes_are_refused(settings_for, serve, feedback_topic):
    forged = unsubscribe_link().replace("cust-42", "cust-43")
    truncated = unsubscribe_link().split("&sig=")[0]
    with serve(create_app(settings_for())) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            for method, path, data, status, code, field in [
                ("GET", forged, None, 403, "invalid_signature", "sig"),
                ("POST", forged, ONE_CLICK, 403, "invalid_signature", "sig"),
                ("GET", truncated, None, 400, "invalid_link", "sig"),
                ("POST", unsubscribe_link(key="someone-elses-key"), ONE_CLICK, 403, "invalid_signature", "sig"),
                # A survey link's signature does not unsubscribe.
                ("POST", survey_link().replace("/v1/survey", "/v1/unsubscribe"), ONE_CLICK, 403, "invalid_signature", "sig"),
                ("POST", unsubscribe_link(), {"List-Unsubscribe": "yes"}, 400, "invalid_field", "List-Unsubscribe"),
            ]:
                response = await http.request(method, path, data=data)
                assert response.status_code == status, (path, response.text)
                assert response.json()["error"]["code"] == code
                assert response.json()["error"]["field"] == field
    assert await feedback_topic.count() == 0


async def test_without_a_signing_key_the_pages_are_503(settings_for, serve):
    with serve(create_app(settings_for(links=LinkSettings(signing_key=None)))) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            response = await http.post(unsubscribe_link(), data=ONE_CLICK)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "links_not_configured"


async def test_with_kafka_down_an_unsubscribe_is_503_kept_and_published_when_kafka_is_back(
    settings_for, serve, sqlite_url, feedback_topic
):
    dead_kafka = f"127.0.0.1:{free_port()}"
    with serve(create_app(settings_for(bootstrap=dead_kafka, publish_timeout_s=0.5))) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            response = await http.post(unsubscribe_link(), data=ONE_CLICK)
            assert response.status_code == 503
            assert response.headers["Retry-After"]
            assert response.json()["error"]["code"] == "kafka_unavailable"
    assert stored(sqlite_url) == 1

    # Kafka is back; the mail client retries: 200, and still one envelope.
    with serve(create_app(settings_for())) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            retry = await http.post(unsubscribe_link(), data=ONE_CLICK)
            assert retry.status_code == 200
            assert retry.json()["duplicate"] is True
        [(key, envelope)] = await feedback_topic.read(1)
    assert key == "store-1:cust-42" and envelope.event().kind == "unsubscribe"
    assert await feedback_topic.count() == 1


async def test_a_survey_is_shown_answered_once_and_published(settings_for, serve, sqlite_url, feedback_topic):
    with serve(create_app(settings_for())) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            nps = await http.get(survey_link("nps"))
            assert nps.status_code == 200
            assert nps.text.count('name="score"') == 11
            churn = await http.get(survey_link("churn_reason", "m-2"))
            assert 'value="too_expensive"' in churn.text and 'name="score"' not in churn.text

            bad = await http.post(survey_link("nps"), data={"score": "11"})
            assert bad.status_code == 400 and bad.json()["error"]["field"] == "score"

            first = await http.post(survey_link("nps"), data={"score": "9", "comment": "quick"})
            assert first.json() == {"recorded": True, "survey": "nps", "duplicate": False}
            second = await http.post(survey_link("nps"), data={"score": "2"})  # first answer wins
            assert second.json()["duplicate"] is True
            shown_again = await http.get(survey_link("nps"))
            assert "already have your answer" in shown_again.text

            reason = await http.post(
                survey_link("churn_reason", "m-2"), data={"reason": "found_elsewhere"}, headers={"Accept": "text/html"}
            )
            assert reason.status_code == 200 and "Thank you" in reason.text
    records = await feedback_topic.read(2)
    answers = sorted((e.event() for _, e in records), key=lambda a: a.survey)
    assert all(isinstance(a, SurveyAnswered) for a in answers)
    assert [(a.survey, a.score, a.answer, a.message_id) for a in answers] == [
        ("churn_reason", None, "found_elsewhere", "m-2"),
        ("nps", 9, "quick", "m-1"),
    ]
    assert {key for key, _ in records} == {"store-1:cust-42"}
    assert await feedback_topic.count() == 2
    assert stored(sqlite_url) == 2
