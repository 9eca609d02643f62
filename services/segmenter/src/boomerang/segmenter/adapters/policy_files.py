"""Lifecycle policy files: the default shipped in the package, one optional override per store.

`PolicyFiles(directory)` answers `for_store(store_id)`: `<directory>/<store_id>.yaml` merged
over the default (`policies/default.yaml`), validated, cached until `reload()`. A store without
a file (or any store, with no directory) gets the default. `check()` validates every file of
the directory at once, for start-up and for a CI check of a deployment's policies.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from boomerang.segmenter.domain.policy import InvalidPolicy, LifecyclePolicy, build_policy

DEFAULT_NAME = "policies/default.yaml"
SUFFIX = ".yaml"
# Store ids that can name a file: no path separators, no leading dot.
_FILE_SAFE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")


def parse_document(text: str, source: str) -> dict[str, Any]:
    """A YAML policy document as a mapping (empty text: no settings). Raises InvalidPolicy."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidPolicy(source, [("", f"not valid YAML{where}: {problem}")]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidPolicy(source, [("", f"must be a mapping of settings, got {type(data).__name__}")])
    return data


@cache
def default_document() -> dict[str, Any]:
    text = resources.files("boomerang.segmenter").joinpath(DEFAULT_NAME).read_text(encoding="utf-8")
    return parse_document(text, DEFAULT_NAME)


@cache
def default_policy() -> LifecyclePolicy:
    return build_policy(default_document(), source=DEFAULT_NAME)


def policy_from_text(text: str, source: str = "(override)") -> LifecyclePolicy:
    """A store's override, given as YAML text, merged over the default and validated."""
    return build_policy(default_document(), parse_document(text, source), source=source)


class PolicyFiles:
    def __init__(self, directory: Path | None) -> None:
        self._directory = directory
        self._cache: dict[str, LifecyclePolicy] = {}

    def path_for(self, store_id: str) -> Path | None:
        if self._directory is None or not _FILE_SAFE.fullmatch(store_id):
            return None
        return self._directory / f"{store_id}{SUFFIX}"

    def for_store(self, store_id: str) -> LifecyclePolicy:
        """The store's policy. Raises InvalidPolicy when its file is invalid."""
        if store_id not in self._cache:
            self._cache[store_id] = self._load(store_id)
        return self._cache[store_id]

    def reload(self) -> None:
        self._cache.clear()

    def check(self) -> dict[str, LifecyclePolicy]:
        """Every store file of the directory, validated; raises the first InvalidPolicy."""
        if self._directory is None:
            return {}
        found: dict[str, LifecyclePolicy] = {}
        for path in sorted(self._directory.glob(f"*{SUFFIX}")):
            store_id = path.name[: -len(SUFFIX)]
            if not _FILE_SAFE.fullmatch(store_id):
                raise InvalidPolicy(path.name, [("", "the file name is not a store id")])
            found[store_id] = self._load(store_id)
        return found

    def _load(self, store_id: str) -> LifecyclePolicy:
        path = self.path_for(store_id)
        if path is None or not path.is_file():
            return default_policy()
        return policy_from_text(path.read_text(encoding="utf-8"), source=path.name)
