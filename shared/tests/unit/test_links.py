"""Signed unsubscribe and survey links: what the messenger signs, feedback verifies."""

from urllib.parse import parse_qsl, urlsplit

import pytest

from boomerang.shared import links
from boomerang.shared.links import InvalidLink, LinkKeyMissing, LinkSettings

KEY = b"test-link-key"


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def unsubscribe(customer_id: str = "anon:c/1&x=y", channel: str = "email") -> str:
    return links.unsubscribe_url("https://fb.example/", KEY, "acme", customer_id, channel, "m-1")


def test_a_signed_unsubscribe_url_verifies_to_what_it_was_made_for() -> None:
    url = unsubscribe()

    assert url.startswith("https://fb.example/v1/unsubscribe?")
    link = links.verify_unsubscribe(query_of(url), [KEY])
    assert link == links.SignedLink("unsubscribe", "acme", "anon:c/1&x=y", "email", "m-1")


@pytest.mark.parametrize(("param", "value"), [("c", "someone-else"), ("ch", "sms"), ("m", "m-2"), ("s", "other")])
def test_changing_any_signed_parameter_breaks_the_signature(param: str, value: str) -> None:
    params = query_of(unsubscribe()) | {param: value}

    with pytest.raises(InvalidLink, match="signature"):
        links.verify_unsubscribe(params, [KEY])


def test_a_missing_parameter_or_signature_is_refused() -> None:
    params = query_of(unsubscribe())
    with pytest.raises(InvalidLink, match="'c'"):
        links.verify_unsubscribe({k: v for k, v in params.items() if k != "c"}, [KEY])
    with pytest.raises(InvalidLink, match="signature"):
        links.verify_unsubscribe({k: v for k, v in params.items() if k != "sig"}, [KEY])


def test_a_survey_signature_does_not_unsubscribe_and_another_key_does_not_verify() -> None:
    survey = links.survey_url("https://fb.example", KEY, "acme", "c1", "email", "m-1")
    assert urlsplit(survey).path == "/v1/survey"

    with pytest.raises(InvalidLink):
        links.verify_unsubscribe(query_of(survey), [KEY])
    with pytest.raises(InvalidLink):
        links.verify_unsubscribe(query_of(unsubscribe()), [b"another-key"])
    assert links.verify_survey(query_of(survey), [KEY]).purpose == "survey"


def test_links_signed_with_a_previous_key_still_verify_after_rotation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOOMERANG_LINK_SIGNING_KEY", "new-key")
    monkeypatch.setenv("BOOMERANG_LINK_PREVIOUS_SIGNING_KEYS", "old-key, older-key")
    settings = LinkSettings()
    old = links.unsubscribe_url(settings.base_url, b"older-key", "acme", "c1", "sms", "m-9")

    assert settings.key() == b"new-key"
    assert links.verify_unsubscribe(query_of(old), settings.accepted_keys()).channel == "sms"


def test_there_is_no_default_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOOMERANG_LINK_SIGNING_KEY", raising=False)

    with pytest.raises(LinkKeyMissing):
        LinkSettings().key()


def test_a_survey_link_signs_which_survey_it_opens() -> None:
    url = links.survey_url("https://fb.example", KEY, "acme", "c1", "email", "m-1", survey="csat")
    params = query_of(url)

    assert params["k"] == "csat"
    assert links.verify_survey(params, [KEY]).survey == "csat"
    with pytest.raises(InvalidLink, match="signature"):
        links.verify_survey(params | {"k": "nps"}, [KEY])
    with pytest.raises(InvalidLink, match="signature"):
        links.verify_survey({k: v for k, v in params.items() if k != "k"}, [KEY])
    # Unsubscribe links carry no survey kind and sign exactly what they signed before.
    assert "k" not in query_of(unsubscribe())


def test_a_refusal_names_the_parameter_at_fault() -> None:
    params = query_of(unsubscribe())

    with pytest.raises(links.MissingLinkParameter) as missing:
        links.verify_unsubscribe({k: v for k, v in params.items() if k != "ch"}, [KEY])
    assert missing.value.param == "ch"
    with pytest.raises(InvalidLink) as forged:
        links.verify_unsubscribe(params | {"sig": "AAAA"}, [KEY])
    assert forged.value.param == "sig" and not isinstance(forged.value, links.MissingLinkParameter)
