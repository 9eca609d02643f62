"""Which store a request writes to: the one its write key belongs to, never what the body says."""

from __future__ import annotations

from boomerang.ingest.domain.write_keys import hash_key
from boomerang.ingest.service_layer.ports import StoreRepository
from boomerang.shared.errors import Unauthorized


class MissingWriteKey(Unauthorized):
    code = "missing_write_key"

    def __init__(self) -> None:
        super().__init__("send the store's write key as the Basic auth username, or as writeKey")

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="boomerang-ingest"'}


class InvalidWriteKey(Unauthorized):
    code = "invalid_write_key"

    def __init__(self) -> None:
        super().__init__("unknown or revoked write key")

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="boomerang-ingest"'}


async def store_of_key(stores: StoreRepository, key: str | None) -> str:
    if not key:
        raise MissingWriteKey()
    found = await stores.key_by_hash(hash_key(key))
    if found is None or not found.active:
        raise InvalidWriteKey()
    return found.store_id
