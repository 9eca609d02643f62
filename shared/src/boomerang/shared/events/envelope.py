"""The envelope every Kafka message is wrapped in, in the spirit of CloudEvents 1.0.

Consumers de-duplicate on `id` because Kafka delivers at least once; `type` and
`schema_version` select the pydantic model that `data` is validated against.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

_REGISTRY: dict[tuple[str, int], type[Event]] = {}


class UnknownEventType(ValueError):
    """An envelope names a type/version no model is registered for."""


class Event(BaseModel):
    """Base of every event payload. Subclasses set `event_type` and `schema_version`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "event_type" in cls.__dict__:
            _REGISTRY[(cls.event_type, cls.schema_version)] = cls


def event_class(event_type: str, schema_version: int) -> type[Event]:
    try:
        return _REGISTRY[(event_type, schema_version)]
    except KeyError:
        raise UnknownEventType(f"no schema for {event_type} v{schema_version}") from None


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=128)
    type: str
    source: str
    time: AwareDatetime
    store_id: str = Field(min_length=1, max_length=64)
    customer_id: str = Field(min_length=1, max_length=256)
    schema_version: int = 1
    data: dict[str, Any]

    @classmethod
    def wrap(
        cls,
        event: Event,
        *,
        store_id: str,
        customer_id: str,
        source: str,
        time: datetime,
        id: str | None = None,
    ) -> Envelope:
        return cls(
            id=id or str(uuid.uuid4()),
            type=event.event_type,
            source=source,
            time=time,
            store_id=store_id,
            customer_id=customer_id,
            schema_version=event.schema_version,
            data=event.model_dump(mode="json"),
        )

    @property
    def key(self) -> str:
        """The partition key of every topic: one customer's events stay in order."""
        return customer_key(self.store_id, self.customer_id)

    def event(self) -> Event:
        return event_class(self.type, self.schema_version).model_validate(self.data)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)


def customer_key(store_id: str, customer_id: str) -> str:
    return f"{store_id}:{customer_id}"
