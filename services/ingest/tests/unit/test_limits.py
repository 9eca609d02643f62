"""Requests over a limit: 400 with a code, the field, and the limit in words a shop can act on."""

from __future__ import annotations

import pytest

from boomerang.ingest.domain.limits import body_too_large, size, too_many_events


@pytest.mark.parametrize(
    ("limit", "said"),
    [
        (32 * 1024, "32 KB (32,768 bytes)"),
        (500 * 1024, "500 KB (512,000 bytes)"),
        (1024 * 1024, "1 MB (1,048,576 bytes)"),
        (1000, "1,000 bytes"),
    ],
)
def test_a_limit_is_said_in_its_unit_and_exactly(limit, said):
    assert size(limit) == said


def test_every_limit_is_a_400_with_its_code_and_field():
    refusals = [body_too_large(100, "POST /v1/batch"), too_many_events(5, "batch")]
    assert [(r.status_code, r.code, r.field) for r in refusals] == [
        (400, "payload_too_large", "body"),
        (400, "too_many_events", "batch"),
    ]
    assert refusals[0].body()["error"]["message"] == (
        "the body is larger than 100 bytes, the limit of POST /v1/batch; nothing of it was accepted"
    )
    assert refusals[1].message.startswith("batch holds more than 5 events")
