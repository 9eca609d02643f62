from __future__ import annotations

import asyncio

from boomerang.ingest.service_layer.claims import Claims


async def test_overlapping_claims_in_opposite_order_do_not_deadlock():
    claims, order = Claims(), []

    async def hold(name: str, ids: list[str]) -> None:
        async with claims.hold("s1", ids):
            order.append(name)
            await asyncio.sleep(0.01)

    await asyncio.wait_for(asyncio.gather(hold("a", ["1", "2"]), hold("b", ["2", "1"]), hold("c", ["3"])), 2)
    assert sorted(order) == ["a", "b", "c"] and len(claims) == 0


async def test_claims_are_per_store():
    claims = Claims()
    async with claims.hold("s1", ["1"]):
        async with asyncio.timeout(1):
            async with claims.hold("s2", ["1"]):
                assert len(claims) == 2


async def test_a_claim_is_released_when_the_holder_fails():
    claims = Claims()
    try:
        async with claims.hold("s1", ["1"]):
            raise RuntimeError("publish failed")
    except RuntimeError:
        pass
    async with asyncio.timeout(1):
        async with claims.hold("s1", ["1"]):
            pass
