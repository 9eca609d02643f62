"""CustomerState as the bytes stored in the faust table and its changelog (JSON).

New fields need defaults: states written before they existed must still decode.
"""

from __future__ import annotations

from pydantic import TypeAdapter

from boomerang.segmenter.domain import CustomerState

_STATE = TypeAdapter(CustomerState)


def encode_state(state: CustomerState) -> bytes:
    return _STATE.dump_json(state)


def decode_state(raw: bytes) -> CustomerState:
    return _STATE.validate_json(raw)
