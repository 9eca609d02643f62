"""The Dockerfiles, checked without Docker: structure, the package and console script they
install, ports, user, health check, and what the build context lets them copy."""

from __future__ import annotations

import pytest

import deploy_support as ds


@pytest.mark.parametrize("name", list(ds.SERVICES))
def test_dockerfile_follows_the_contract(name):
    service = ds.SERVICES[name]
    path = ds.REPO / service.directory / "Dockerfile"
    assert path.is_file(), f"{path} missing"
    errors = ds.dockerfile_errors(path, service)
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("name", list(ds.SERVICES))
def test_console_script_points_into_the_package(name):
    service = ds.SERVICES[name]
    import tomllib

    project = tomllib.loads((ds.REPO / service.directory / "pyproject.toml").read_text())["project"]
    assert project["name"] == service.package
    target = project["scripts"][service.script]
    module = target.split(":")[0]
    assert module.startswith(f"boomerang.{name}."), target
    source = ds.REPO / service.directory / "src" / (module.replace(".", "/") + ".py")
    if not source.exists():  # the service may still be being written; the entry point must be in its tree
        pytest.skip(f"{source.relative_to(ds.REPO)} does not exist yet")
    assert f"def {target.split(':')[1]}" in source.read_text()


def test_dockerignore_keeps_the_context_small_but_complete():
    patterns = ds.dockerignore_patterns()
    for excluded in ("build", ".venv", "services/ingest/.venv", "shared/src/boomerang/__pycache__",
                     ".pytest_cache", ".git", "services/ingest/tests", "data"):
        assert ds.dockerignored(excluded, patterns), f"{excluded} reaches the build context"
    for needed in ("pyproject.toml", "uv.lock", "shared/src/boomerang/shared/kafka/topics.py",
                   "services/messenger/src", "services/messenger/migrations", "tools/sandbox/src"):
        assert not ds.dockerignored(needed, patterns), f"{needed} is excluded from the build context"


# ---------------------------------------------------------------------------- the checks fail

GOOD = (ds.REPO / "services/ingest/Dockerfile").read_text()


@pytest.mark.parametrize(
    "old, new",
    [
        ("EXPOSE 8001", "EXPOSE 8080"),
        ("USER 10001:10001", "USER root"),
        ('CMD ["boomerang-ingest", "serve"]', 'CMD ["boomerang-ingest", "worker"]'),
        ("--package boomerang-ingest\n\n# -", "--package boomerang-ingset\n\n# -"),
        ("COPY shared/ shared/\n", ""),
        ("pip install uv==0.13.8", "pip install uv"),
        ("BOOMERANG_INGEST_HOST=0.0.0.0", "BOOMERANG_INGEST_HOST=127.0.0.1"),
        ("'/healthz'", "'/health'"),
        ("COPY --from=builder", "COPY --from=bilder"),
        ("ARG PYTHON_IMAGE=python:3.11-slim", "ARG PYTHON_IMAGE=python:3.13-slim"),
    ],
    ids=["port", "root", "command", "package", "missing-member", "unpinned-uv", "host", "health", "stage", "base"],
)
def test_the_dockerfile_check_rejects_a_broken_dockerfile(tmp_path, old, new):
    assert old in GOOD, old
    path = ds.REPO / "services/ingest/Dockerfile"
    broken = tmp_path / "Dockerfile"
    broken.write_text(GOOD.replace(old, new, 1))
    # Same repository (for pyprojects and COPY sources), broken file.
    errors = ds.dockerfile_errors_for_text(broken.read_text(), path, ds.SERVICES["ingest"])
    assert errors


def test_the_dockerfile_check_accepts_the_real_one():
    path = ds.REPO / "services/ingest/Dockerfile"
    assert ds.dockerfile_errors_for_text(GOOD, path, ds.SERVICES["ingest"]) == []
