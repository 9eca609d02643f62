"""Why an event was refused, and where: every rejection names a code and the offending field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from boomerang.shared.errors import BadRequest


class Rejected(BadRequest):
    """A message the shop must fix; nothing of it is published."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message, field=field, code=code)

    def under(self, prefix: str) -> Rejected:
        """The same rejection with its field path nested below `prefix` (e.g. `batch[3]`)."""
        return Rejected(self.code, self.message, join_path(prefix, self.field))


@dataclass(frozen=True)
class Rejection:
    """One refused item of a batch, as reported back to the shop."""

    index: int
    code: str
    message: str
    field: str | None

    def as_dict(self) -> dict[str, object]:
        return {"index": self.index, "code": self.code, "message": self.message, "field": self.field}


def join_path(prefix: str, field: str | None) -> str:
    if not field:
        return prefix
    if not prefix:
        return field
    return f"{prefix}{field}" if field.startswith("[") else f"{prefix}.{field}"


def path_of(location: Sequence[str | int]) -> str | None:
    """pydantic's error location as a path: ("products", 0, "price") -> "products[0].price"."""
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or None
