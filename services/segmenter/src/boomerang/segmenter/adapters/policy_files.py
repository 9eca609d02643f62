"""Lifecycle policy files: the default shipped in the package, one optional override per store.

`PolicyFiles(directory)` answers `for_store(store_id)`: `<directory>/<store_id>.yaml` merged
over the default (`policies/default.yaml`), validated, cached until `reload()`. A store without
a file (or any store, with no directory) gets the default. `check()` validates every file of
the directory at once, for start-up and for a CI check of a deployment's policies.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from boomerang.segmenter.domain.policy import InvalidPolicy, LifecyclePolicy, build_policy
from boomerang.shared.rules import STORE_FILE_NAME, PerStore, yaml_mapping

DEFAULT_NAME = "policies/default.yaml"
SUFFIX = ".yaml"


def parse_document(text: str, source: str) -> dict[str, Any]:
    """A YAML policy document as a mapping (empty text: no settings). Raises InvalidPolicy."""
    try:
        return yaml_mapping(text)
    except ValueError as exc:
        raise InvalidPolicy(source, [("", str(exc))]) from None


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


class PolicyFiles(PerStore[LifecyclePolicy]):

    def path_for(self, store_id: str) -> Path | None:
        if self._directory is None or not STORE_FILE_NAME.fullmatch(store_id):
            return None
        return self._directory / f"{store_id}{SUFFIX}"

    def check(self) -> dict[str, LifecyclePolicy]:
        """Every store file of the directory, validated; raises the first InvalidPolicy."""
        if self._directory is None:
            return {}
        found: dict[str, LifecyclePolicy] = {}
        for path in sorted(self._directory.glob(f"*{SUFFIX}")):
            store_id = path.name[: -len(SUFFIX)]
            if not STORE_FILE_NAME.fullmatch(store_id):
                raise InvalidPolicy(path.name, [("", "the file name is not a store id")])
            found[store_id] = self._load(store_id)
        return found

    def _load(self, store_id: str) -> LifecyclePolicy:
        path = self.path_for(store_id)
        if path is None or not path.is_file():
            return default_policy()
        return policy_from_text(path.read_text(encoding="utf-8"), source=path.name)
