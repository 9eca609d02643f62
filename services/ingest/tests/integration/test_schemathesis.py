"""schemathesis against the real app's /openapi.json: at least 1,000 generated requests, no 5xx.

The app runs as in production (uvicorn, the real broker, a SQLite store); every case carries a
valid write key as Basic auth, so generated events get past the key and reach validation and
Kafka. Each operation is fuzzed with data that fits its schema and data that does not; every
answer must be no server error, carry a documented status and content type, and match the
documented schema. Generation is derandomized, so a failure here fails the same way in CI.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import basic, make_shop, serving, settings_for

pytestmark = pytest.mark.integration

MIN_CASES = 1000
# Cases per operation: data that fits the schema (the part that reaches Kafka), and data that
# does not. Operations with few distinct inputs run out sooner; the total is asserted below.
EXAMPLES = {GenerationMode.POSITIVE: 75, GenerationMode.NEGATIVE: 20}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


async def test_generated_requests_never_get_a_server_error(kafka_bootstrap, topic_prefix, tmp_path):
    app_settings = settings_for(kafka_bootstrap, topic_prefix, tmp_path)
    shop = await make_shop(app_settings, "shop-a")
    async with serving(app_settings) as client:
        ran, statuses = await asyncio.to_thread(fuzz, str(client.base_url), shop.key, shop.store_id)

    print(f"schemathesis: {sum(ran.values())} cases, statuses {dict(sorted(statuses.items()))}")
    assert sum(ran.values()) >= MIN_CASES, ran
    # Not only refusals: generated events were accepted and published too.
    assert statuses[200] > 0 and statuses[400] > 0, statuses


def fuzz(
    base_url: str, key: str, store_id: str, *, only: Callable[[str], bool] = lambda label: True
) -> tuple[Counter[str], Counter[int]]:
    """Run every operation (`only` picks some, when debugging) in both modes; returns the cases
    run per operation and mode, and the statuses answered."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=schemathesis.Config())
    ran: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    with requests.Session() as session:

        def send(case: schemathesis.Case, label: str) -> None:
            ran[label] += 1
            response = case.call(base_url=base_url, session=session, headers=basic(key), timeout=30)
            statuses[response.status_code] += 1
            case.validate_response(response, checks=CHECKS, headers=basic(key))

        for result in schema.get_all_operations():
            operation = result.ok()
            if not only(operation.label):
                continue
            for mode in _modes(operation):
                # The key's own store in positive cases, so routes with {store} get past that check.
                fixed = (
                    {"store": store_id}
                    if mode.is_positive and _has_path_parameter(operation, "store")
                    else None
                )
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed)
                try:
                    _explore(strategy, send, f"{operation.label} {mode.value}", EXAMPLES[mode])
                except Unsatisfiable:
                    # Nothing to get wrong (no parameters, or only free-form strings): no cases.
                    assert not mode.is_positive, operation.label
    return ran, statuses


def _modes(operation: schemathesis.APIOperation) -> list[GenerationMode]:
    """Invalid data too, where there is something to get wrong: a body, a query or a header
    (a path segment is text whatever it holds)."""
    if operation.body or operation.query or operation.headers:
        return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    return [GenerationMode.POSITIVE]


def _explore(strategy, send, label: str, examples: int) -> None:
    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        send(case, label)

    run()


def _has_path_parameter(operation: schemathesis.APIOperation, name: str) -> bool:
    return any(parameter.name == name for parameter in operation.path_parameters)
