"""Settings files a shop owner writes (lifecycle policies, flows): pydantic errors as
(dotted setting, message) pairs a person can act on."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml

T = TypeVar("T")


class FieldRule(ValueError):
    """A cross-field rule broken inside a model validator; carries the setting's name, so the
    error points at the setting rather than at the section that holds it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def describe_error(error: dict[str, Any], keep: Callable[[Sequence[str], int], bool] = lambda parts, i: True) -> tuple[str, str]:
    """One pydantic error (`ValidationError.errors()` item) as (setting path, message); `keep`
    drops location parts that mean nothing to the writer (e.g. a tagged union's tag)."""
    parts = [str(part) for part in error["loc"]]
    path = ".".join(part for i, part in enumerate(parts) if keep(parts, i))
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, FieldRule):
        return (f"{path}.{cause.field}" if path else cause.field), str(cause)
    if error["type"] == "extra_forbidden":
        return path, "unknown setting"
    if error["type"] == "missing":
        return path, "missing"
    return path, f"{error['msg'].removeprefix('Value error, ')} (got {error['input']!r})"


# Store ids that can name a file or a directory: no path separators, no leading dot.
STORE_FILE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")


def yaml_mapping(text: str) -> dict[str, Any]:
    """A YAML document of settings as a mapping (empty text: no settings). Raises ValueError
    with a message for the writer (where the syntax broke, or what the document was instead)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ValueError(f"not valid YAML{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"must be a mapping of settings, got {type(data).__name__}")
    return data


class PerStore(Generic[T]):
    """Settings per store read from a directory, cached until `reload()`; subclasses say how
    one store's settings are found and loaded (`_load`)."""

    def __init__(self, directory: Path | None) -> None:
        self._directory = directory
        self._cache: dict[str, T] = {}

    def for_store(self, store_id: str) -> T:
        if store_id not in self._cache:
            self._cache[store_id] = self._load(store_id)
        return self._cache[store_id]

    def reload(self) -> None:
        self._cache.clear()

    def _load(self, store_id: str) -> T:
        raise NotImplementedError
