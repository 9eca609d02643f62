"""Fixtures for the offline deployment checks (tests/deploy)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# deploy_support sits next to the tests; --import-mode=importlib does not put it on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

import deploy_support as ds  # noqa: E402


@pytest.fixture(scope="session")
def kustomize() -> str:
    """The pinned kustomize (built once into ~/.cache/boomerang by scripts/install-kustomize.sh).

    BOOMERANG_KUSTOMIZE=/path/to/kustomize uses another binary. With
    BOOMERANG_SKIP_KUSTOMIZE=1 the render tests skip (the per-file checks still run).
    """
    import os

    if os.environ.get("BOOMERANG_SKIP_KUSTOMIZE") == "1":
        pytest.skip("BOOMERANG_SKIP_KUSTOMIZE=1: kustomize renders not checked")
    return ds.kustomize_binary()


@pytest.fixture(scope="session")
def rendered(kustomize: str) -> dict[str, tuple[list[dict], str]]:
    """Every kustomization in ds.KUSTOMIZATIONS, rendered once: (resources, warnings)."""
    return {name: ds.kustomize_build(kustomize, ds.K8S_DIR / name) for name in ds.KUSTOMIZATIONS}
