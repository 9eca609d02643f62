from __future__ import annotations

from datetime import datetime, timezone

import pytest

from boomerang.ingest.domain.rejections import Rejected
from boomerang.ingest.domain.write_keys import hash_key
from boomerang.ingest.service_layer import stores
from boomerang.ingest.service_layer.auth import store_of_key
from boomerang.shared.errors import BoomerangError

from .fakes import FakeStores

NOW = datetime(2025, 3, 1, tzinfo=timezone.utc)


@pytest.fixture
def repo() -> FakeStores:
    return FakeStores()


async def test_a_new_store_gets_a_random_key_stored_only_as_its_hash(repo):
    issued = await stores.create_store(repo, "shop-1", name=None, chosen_key=None, now=NOW)
    [key] = repo.keys.values()
    assert issued.key.startswith("wk_") and len(issued.key) > 40
    assert key.key_hash == hash_key(issued.key) and issued.key not in (key.key_hash, key.prefix)
    assert await store_of_key(repo, issued.key) == "shop-1"


async def test_recreating_a_store_with_the_same_chosen_key_is_a_no_op(repo):
    first = await stores.create_store(repo, "demo", name="Demo", chosen_key="demo-key-0123456789", now=NOW)
    again = await stores.create_store(repo, "demo", name="Demo", chosen_key="demo-key-0123456789", now=NOW)
    assert (again.key_id, again.existed, len(repo.keys)) == (first.key_id, True, 1)


async def test_recreating_a_store_otherwise_conflicts(repo):
    await stores.create_store(repo, "demo", name=None, chosen_key=None, now=NOW)
    with pytest.raises(BoomerangError) as caught:
        await stores.create_store(repo, "demo", name=None, chosen_key=None, now=NOW)
    assert (caught.value.status_code, caught.value.code) == (409, "store_exists")


async def test_a_key_cannot_be_shared_by_two_stores(repo):
    await stores.create_store(repo, "a", name=None, chosen_key="shared-key-0123456789", now=NOW)
    with pytest.raises(BoomerangError) as caught:
        await stores.create_store(repo, "b", name=None, chosen_key="shared-key-0123456789", now=NOW)
    assert caught.value.code == "write_key_taken"


@pytest.mark.parametrize("key", ["short", "has space 0123456789", "has:colon:0123456789"])
async def test_weak_chosen_keys_are_refused(repo, key):
    with pytest.raises(Rejected) as caught:
        await stores.create_store(repo, "a", name=None, chosen_key=key, now=NOW)
    assert caught.value.code == "weak_write_key"


@pytest.mark.parametrize("store_id", ["", "a:b", "-x", "x" * 65, "caf\u00e9"])
async def test_store_ids_are_checked(repo, store_id):
    with pytest.raises(Rejected):
        await stores.create_store(repo, store_id, name=None, chosen_key=None, now=NOW)


async def test_a_revoked_key_no_longer_authenticates_but_the_other_does(repo):
    first = await stores.create_store(repo, "shop", name=None, chosen_key=None, now=NOW)
    second = await stores.add_key(repo, "shop", chosen_key=None, now=NOW)
    revoked = await stores.revoke_key(repo, first.key_id, now=NOW)
    assert revoked.revoked_at == NOW
    with pytest.raises(BoomerangError) as caught:
        await store_of_key(repo, first.key)
    assert (caught.value.status_code, caught.value.code) == (401, "invalid_write_key")
    assert await store_of_key(repo, second.key) == "shop"
    assert [k.active for k in await stores.keys_of(repo, "shop")] == [False, True]


@pytest.mark.parametrize(
    ("key", "code"),
    [(None, "missing_write_key"), ("", "missing_write_key"), ("wk_unknown", "invalid_write_key")],
)
async def test_missing_and_unknown_keys(repo, key, code):
    with pytest.raises(BoomerangError) as caught:
        await store_of_key(repo, key)
    assert (caught.value.status_code, caught.value.code) == (401, code)


async def test_unknown_stores_and_keys_are_not_found(repo):
    for call in (
        stores.keys_of(repo, "nope"),
        stores.add_key(repo, "nope", chosen_key=None, now=NOW),
        stores.revoke_key(repo, "key_nope", now=NOW),
    ):
        with pytest.raises(BoomerangError) as caught:
            await call
        assert caught.value.status_code == 404
