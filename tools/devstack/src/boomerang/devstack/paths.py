"""Where the repository and its build directory are."""

from __future__ import annotations

from pathlib import Path


def repo_root() -> Path:
    """The checkout: the nearest parent holding scripts/kafka.sh (works from an editable install)."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "scripts" / "kafka.sh").exists():
            return parent
    return Path.cwd()
