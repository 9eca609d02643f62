"""The default flows (one YAML file per flow, in this directory) and the per-store overrides.

`default_flows()` is the validated default set. `FlowFiles(directory)` answers
`for_store(store_id)`: the files of `<directory>/<store_id>/` applied by flow name over the
default set (see `domain.flow_definitions` for the merge), validated, cached until `reload()`.
A store without a directory (or any store, with no directory) gets the default set. `check()`
validates every store directory at once, for start-up and for a CI check of a deployment.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from boomerang.messenger.domain.flow_definitions import Document, FlowSet, InvalidFlow, build_flows
from boomerang.shared.rules import STORE_FILE_NAME, PerStore, yaml_mapping

SUFFIX = ".yaml"
PACKAGE_DIR = "flows"


def parse_document(text: str, source: str) -> Document:
    """A YAML flow document (empty text: no settings). Raises InvalidFlow naming the file."""
    try:
        return Document(source, yaml_mapping(text))
    except ValueError as exc:
        raise InvalidFlow([(source, "", str(exc))]) from None


def read_directory(directory: Path, label: str) -> dict[str, Document]:
    """Every `<flow>.yaml` of a directory, by flow name; `label` prefixes sources in errors."""
    documents: dict[str, Document] = {}
    errors: list[tuple[str, str, str]] = []
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        source = f"{label}/{path.name}"
        try:
            documents[path.name[: -len(SUFFIX)]] = parse_document(path.read_text(encoding="utf-8"), source)
        except InvalidFlow as exc:
            errors.extend(exc.errors)
    if errors:
        raise InvalidFlow(errors)
    return documents


@cache
def default_documents() -> dict[str, Document]:
    documents = {}
    for entry in sorted(resources.files("boomerang.messenger").joinpath(PACKAGE_DIR).iterdir(), key=str):
        if entry.name.endswith(SUFFIX):
            name = entry.name[: -len(SUFFIX)]
            documents[name] = parse_document(entry.read_text(encoding="utf-8"), f"{PACKAGE_DIR}/{entry.name}")
    return documents


@cache
def default_flows() -> FlowSet:
    return build_flows(default_documents())


def flows_from_texts(texts: dict[str, str], label: str = "(override)") -> FlowSet:
    """A store's override files given as YAML texts by flow name, applied over the defaults."""
    overrides = {name: parse_document(text, f"{label}/{name}{SUFFIX}") for name, text in texts.items()}
    return build_flows(default_documents(), overrides)


class FlowFiles(PerStore[FlowSet]):

    def path_for(self, store_id: str) -> Path | None:
        if self._directory is None or not STORE_FILE_NAME.fullmatch(store_id):
            return None
        return self._directory / store_id

    def check(self) -> dict[str, FlowSet]:
        """Every store directory, validated; one InvalidFlow lists the problems of all of them."""
        if self._directory is None:
            return {}
        found: dict[str, FlowSet] = {}
        errors: list[tuple[str, str, str]] = []
        for path in sorted(p for p in self._directory.iterdir() if p.is_dir()):
            if not STORE_FILE_NAME.fullmatch(path.name):
                errors.append((path.name, "", "the directory name is not a store id"))
                continue
            try:
                found[path.name] = self._load(path.name)
            except InvalidFlow as exc:
                errors.extend(exc.errors)
        if errors:
            raise InvalidFlow(errors)
        return found

    def _load(self, store_id: str) -> FlowSet:
        path = self.path_for(store_id)
        if path is None or not path.is_dir():
            return default_flows()
        return build_flows(default_documents(), read_directory(path, store_id))
