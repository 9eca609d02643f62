"""Store administration beyond the first key: rotation, the Shopify secret, the rate limit."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from boomerang.ingest.domain.rejections import Rejected
from boomerang.ingest.domain.write_keys import check_store_id
from boomerang.ingest.service_layer import stores
from boomerang.ingest.service_layer.auth import InvalidWriteKey, store_of_key
from boomerang.shared.errors import BoomerangError

from .fakes import FakeStores

NOW = datetime(2025, 3, 1, tzinfo=timezone.utc)


@pytest.fixture
def repo() -> FakeStores:
    return FakeStores()


async def test_a_store_can_be_created_with_its_shopify_secret_and_rate_limit(repo):
    await stores.create_store(
        repo, "shop", name=None, chosen_key=None, now=NOW, shopify_secret=" shpss_abc \n", rate_limit_per_s=50
    )
    store = repo.stores["shop"]
    assert (store.shopify_secret, store.rate_limit_per_s) == ("shpss_abc", 50)


async def test_creating_again_with_the_same_key_updates_only_the_settings_given(repo):
    key = "demo-write-key-0123456789"
    await stores.create_store(repo, "demo", name=None, chosen_key=key, now=NOW, rate_limit_per_s=10)
    again = await stores.create_store(repo, "demo", name=None, chosen_key=key, now=NOW, shopify_secret="s1")
    assert again.existed and len(repo.keys) == 1
    assert (repo.stores["demo"].shopify_secret, repo.stores["demo"].rate_limit_per_s) == ("s1", 10)


async def test_rotation_adds_a_key_then_revokes_the_old_one(repo):
    first = await stores.create_store(repo, "shop", name=None, chosen_key=None, now=NOW)
    issued, revoked = await stores.rotate_key(repo, "shop", chosen_key=None, revoke=first.key_id, now=NOW)
    assert revoked is not None and revoked.id == first.key_id and revoked.revoked_at == NOW
    assert await store_of_key(repo, issued.key) == "shop"
    with pytest.raises(InvalidWriteKey):
        await store_of_key(repo, first.key)


async def test_rotation_never_revokes_another_stores_key(repo):
    other = await stores.create_store(repo, "other", name=None, chosen_key=None, now=NOW)
    await stores.create_store(repo, "shop", name=None, chosen_key=None, now=NOW)
    with pytest.raises(BoomerangError) as caught:
        await stores.rotate_key(repo, "shop", chosen_key=None, revoke=other.key_id, now=NOW)
    assert (caught.value.code, caught.value.field) == ("key_not_found", "revoke")
    assert await store_of_key(repo, other.key) == "other"
    assert len(await stores.keys_of(repo, "shop")) == 1  # nothing added either


async def test_rotation_without_revoking_keeps_both_keys(repo):
    first = await stores.create_store(repo, "shop", name=None, chosen_key=None, now=NOW)
    issued, revoked = await stores.rotate_key(repo, "shop", chosen_key=None, revoke=None, now=NOW)
    assert revoked is None
    assert {await store_of_key(repo, k) for k in (first.key, issued.key)} == {"shop"}


async def test_the_shopify_secret_can_be_set_and_removed(repo):
    await stores.create_store(repo, "shop", name=None, chosen_key=None, now=NOW)
    assert (await stores.set_shopify_secret(repo, "shop", "whsec\n")).shopify_secret == "whsec"
    assert (await stores.set_shopify_secret(repo, "shop", None)).shopify_secret is None
    assert repo.stores["shop"].shopify_secret is None


async def test_the_rate_limit_can_be_set_and_returned_to_the_default(repo):
    await stores.create_store(repo, "shop", name=None, chosen_key=None, now=NOW)
    assert (await stores.set_rate_limit(repo, "shop", 2.5)).rate_limit_per_s == 2.5
    assert (await stores.set_rate_limit(repo, "shop", None)).rate_limit_per_s is None


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda repo: stores.set_shopify_secret(repo, "shop", ""), "invalid_shopify_secret"),
        (lambda repo: stores.set_shopify_secret(repo, "shop", "has space"), "invalid_shopify_secret"),
        (lambda repo: stores.set_shopify_secret(repo, "shop", "x" * 201), "invalid_shopify_secret"),
        (lambda repo: stores.set_rate_limit(repo, "shop", 0), "invalid_rate_limit"),
        (lambda repo: stores.set_rate_limit(repo, "shop", -1), "invalid_rate_limit"),
        (lambda repo: stores.set_rate_limit(repo, "shop", float("nan")), "invalid_rate_limit"),
        (lambda repo: stores.set_rate_limit(repo, "shop", float("inf")), "invalid_rate_limit"),
        (lambda repo: stores.set_rate_limit(repo, "nope", 1), "store_not_found"),
        (lambda repo: stores.set_shopify_secret(repo, "nope", "s"), "store_not_found"),
        (
            lambda repo: stores.rotate_key(repo, "nope", chosen_key=None, revoke=None, now=NOW),
            "store_not_found",
        ),
    ],
)
async def test_bad_settings_are_refused_and_change_nothing(repo, call, code):
    await stores.create_store(repo, "shop", name=None, chosen_key=None, now=NOW, shopify_secret="keep")
    with pytest.raises(BoomerangError) as caught:
        await call(repo)
    assert caught.value.code == code
    assert (repo.stores["shop"].shopify_secret, repo.stores["shop"].rate_limit_per_s) == ("keep", None)


def test_a_store_id_with_a_trailing_newline_is_refused():
    with pytest.raises(Rejected):
        check_store_id("shop\n")
