"""Signed links in messages: one-click unsubscribe and the survey page, both served by feedback.

The messenger signs, feedback verifies; both read the key from `BOOMERANG_LINK_SIGNING_KEY`
(`LinkSettings`). A link carries everything needed to act on it (RFC 8058: the one-click POST
has no cookie and no session), and an HMAC-SHA256 over the purpose, store, customer, channel
and message id, so nobody can unsubscribe someone else by editing the query, and an
unsubscribe signature is no survey signature. Links do not expire: an unsubscribe link in a
two-year-old email must still work. To rotate the key, move the old one to
`BOOMERANG_LINK_PREVIOUS_SIGNING_KEYS` (comma-separated) until old mail no longer matters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

UNSUBSCRIBE = "unsubscribe"
SURVEY = "survey"
# Where feedback serves them; the messenger builds URLs from these, feedback routes them.
PATHS = {UNSUBSCRIBE: "/v1/unsubscribe", SURVEY: "/v1/survey"}
# Query parameters: short, because SMS and some mail clients count characters.
_PARAMS = {"store_id": "s", "customer_id": "c", "channel": "ch", "message_id": "m"}
# Which survey a survey link opens (`nps`, `csat`, `churn_reason`); signed like the rest.
SURVEY_PARAM = "k"
SIGNATURE_PARAM = "sig"
_VERSION = "v1"


class LinkSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BOOMERANG_LINK_", extra="ignore")

    signing_key: SecretStr | None = Field(default=None, description="HMAC key; no default on purpose")
    previous_signing_keys: str = Field(default="", description="comma-separated keys still accepted")
    base_url: str = Field(
        default="http://localhost:8004", description="feedback's public scheme://host[:port]"
    )

    def key(self) -> bytes:
        """The key links are signed with. Raises LinkKeyMissing when none is configured."""
        if self.signing_key is None or not self.signing_key.get_secret_value():
            raise LinkKeyMissing("set BOOMERANG_LINK_SIGNING_KEY to sign unsubscribe and survey links")
        return self.signing_key.get_secret_value().encode()

    def accepted_keys(self) -> list[bytes]:
        previous = [k.strip().encode() for k in self.previous_signing_keys.split(",") if k.strip()]
        return [self.key(), *previous]


class LinkKeyMissing(RuntimeError):
    pass


class InvalidLink(ValueError):
    """A link whose parameters are missing or whose signature does not match."""

    def __init__(self, message: str, *, param: str = SIGNATURE_PARAM) -> None:
        super().__init__(message)
        self.param = param  # the query parameter at fault, for the error's `field`


class MissingLinkParameter(InvalidLink):
    """A parameter the link needs is absent: a truncated link rather than a forgery."""


@dataclass(frozen=True)
class SignedLink:
    """What a link in one message, to one customer, on one channel is about."""

    purpose: str  # UNSUBSCRIBE or SURVEY
    store_id: str
    customer_id: str
    channel: str  # "email" or "sms": an unsubscribe link unsubscribes from that channel
    message_id: str
    survey: str | None = None  # survey links only: which survey

    def payload(self) -> bytes:
        # JSON of a list: unambiguous whatever the ids contain (no separator to forge with).
        fields = [_VERSION, self.purpose, self.store_id, self.customer_id, self.channel, self.message_id]
        if self.survey is not None:
            # Only when present, so links made before survey kinds existed keep verifying.
            fields.append(self.survey)
        return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()


def signature(key: bytes, link: SignedLink) -> str:
    digest = hmac.new(key, link.payload(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query(key: bytes, link: SignedLink) -> dict[str, str]:
    """The link's query parameters, signature included."""
    params = {param: getattr(link, name) for name, param in _PARAMS.items()}
    if link.survey is not None:
        params[SURVEY_PARAM] = link.survey
    return {**params, SIGNATURE_PARAM: signature(key, link)}


def url(base_url: str, key: bytes, link: SignedLink) -> str:
    return f"{base_url.rstrip('/')}{PATHS[link.purpose]}?{urlencode(query(key, link))}"


def unsubscribe_url(
    base_url: str, key: bytes, store_id: str, customer_id: str, channel: str, message_id: str
) -> str:
    return url(base_url, key, SignedLink(UNSUBSCRIBE, store_id, customer_id, channel, message_id))


def survey_url(
    base_url: str,
    key: bytes,
    store_id: str,
    customer_id: str,
    channel: str,
    message_id: str,
    survey: str = "nps",
) -> str:
    """`survey`: which one the page shows (`nps`, `csat`, `churn_reason`)."""
    return url(base_url, key, SignedLink(SURVEY, store_id, customer_id, channel, message_id, survey))


def verify(purpose: str, params: Mapping[str, str], keys: Iterable[bytes]) -> SignedLink:
    """The link these query parameters describe, if one of `keys` signed it; else InvalidLink.

    Feedback calls it with the request's query (GET) or form (one-click POST carries the URL's
    query too), e.g. `verify(UNSUBSCRIBE, request.query_params, settings.accepted_keys())`.
    """
    values = {}
    for name, param in _PARAMS.items():
        value = params.get(param)
        if not value:
            raise MissingLinkParameter(f"the link has no {param!r} parameter", param=param)
        values[name] = value
    given = params.get(SIGNATURE_PARAM) or ""
    if not given:
        raise MissingLinkParameter("the link has no signature", param=SIGNATURE_PARAM)
    link = SignedLink(purpose, **values, survey=params.get(SURVEY_PARAM) or None)
    # compare_digest on every key: the time taken does not tell how much of a forgery matched.
    if not any(hmac.compare_digest(signature(key, link), given) for key in keys):
        raise InvalidLink("the link's signature does not match")
    return link


def verify_unsubscribe(params: Mapping[str, str], keys: Iterable[bytes]) -> SignedLink:
    return verify(UNSUBSCRIBE, params, keys)


def verify_survey(params: Mapping[str, str], keys: Iterable[bytes]) -> SignedLink:
    return verify(SURVEY, params, keys)
