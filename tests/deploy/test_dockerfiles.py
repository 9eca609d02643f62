"""The one Dockerfile, checked without Docker for each service it builds: resolved with the build
args docker-compose.yml passes, it must install that service's package and run its console script
on its port, as a non-root user, with a health check; and the build context must hold what it copies."""

from __future__ import annotations

import tomllib

import pytest

import deploy_support as ds

COMPOSE = ds.load_compose()
GOOD = ds.DOCKERFILE.read_text()


def build_args(name: str) -> dict[str, str]:
    """What compose passes to the Dockerfile for service `name`."""
    dockerfile, args = ds.compose_build(COMPOSE["services"][name])
    assert dockerfile == ds.DOCKERFILE, f"{name} is not built from the root Dockerfile"
    return args


def errors_for(name: str, text: str = GOOD, args: dict[str, str] | None = None) -> list[str]:
    args = build_args(name) if args is None else args
    return ds.dockerfile_errors_for_text(text, ds.DOCKERFILE, ds.SERVICES[name], args)


@pytest.mark.parametrize("name", list(ds.SERVICES))
def test_the_dockerfile_builds_each_service_to_its_contract(name):
    errors = errors_for(name)
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("name", list(ds.SERVICES))
def test_each_image_installs_only_its_own_package(name):
    builder = ds.resolve_dockerfile(GOOD, build_args(name)).stage("builder")
    syncs = [i.args for i in builder.instructions if i.name == "RUN" and "uv sync" in i.args]
    assert len(syncs) == 2 and all(f'--package "{ds.SERVICES[name].package}"' in s for s in syncs), syncs
    copied = {src.rstrip("/") for i in builder.instructions if i.name == "COPY" for src in ds.copy_sources(i)}
    # The root manifests, shared/ (the one library member; see the Dockerfile) and its own member.
    members = {m for m in copied if not m.endswith((".toml", ".lock"))}
    assert members == {"shared", ds.SERVICES[name].directory}


@pytest.mark.parametrize("name", list(ds.SERVICES))
def test_the_healthcheck_probes_healthz_on_the_port_the_service_reads(name):
    service = ds.SERVICES[name]
    runtime = ds.resolve_dockerfile(GOOD, build_args(name)).runtime
    command = ds.healthcheck_command(runtime)
    code, paths = ds.run_healthcheck(command, runtime.env, f"{service.env_prefix}PORT")
    assert (code, paths) == (0, ["/healthz"])
    code, paths = ds.run_healthcheck(command, runtime.env, f"{service.env_prefix}PORT", status=503)
    assert code != 0 and paths == ["/healthz"], "an unhealthy answer must fail the check"


@pytest.mark.parametrize("name", list(ds.SERVICES))
def test_console_script_points_into_the_package(name):
    service = ds.SERVICES[name]
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
                     ".pytest_cache", ".git", "services/ingest/tests", "tools/sandbox/tests", "data"):
        assert ds.dockerignored(excluded, patterns), f"{excluded} reaches the build context"
    for needed in ("pyproject.toml", "uv.lock", "shared/src/boomerang/shared/kafka/topics.py",
                   "services/messenger/src", "services/messenger/migrations", "tools/sandbox/src"):
        assert not ds.dockerignored(needed, patterns), f"{needed} is excluded from the build context"


def test_the_per_service_dockerfiles_are_gone():
    leftovers = [str(p.relative_to(ds.REPO)) for p in ds.REPO.glob("*/*/Dockerfile")]
    assert not leftovers, f"one Dockerfile builds every image; remove {leftovers}"


# ---------------------------------------------------------------------------- the checks fail


def test_variable_expansion_follows_docker():
    scope = {"A": "a", "EMPTY": ""}
    assert ds.expand("$A/${A}/${MISSING}/${EMPTY:-d}/${EMPTY-d}/${A:+set}/${MISSING+set}/$(echo x)", scope) == \
        "a/a//d//set//$(echo x)"
    resolved = ds.resolve_dockerfile(
        "ARG G=g\nARG H=h\nFROM python:3.11-slim AS one\nARG G\nARG X=${G}-x\nENV X=env Y=$X\n"
        "FROM python:3.11-slim\nENV Z=${G}${X}\n",
        {"H": "built", "UNUSED": "u"},
    )
    one, two = resolved.stages
    assert one.args == {"G": "g", "X": "g-x"}  # a global ARG reaches a stage only when re-declared
    assert (one.env["X"], one.env["Y"]) == ("env", "g-x")  # a pair sees the env from before the ENV
    assert two.env["Z"] == ""  # a stage's ARG does not reach the next one
    assert resolved.unused_build_args == ["UNUSED"]


DOCKERFILE_BREAKS = {
    "port": ("EXPOSE ${SERVICE_PORT}", "EXPOSE 8080"),
    "root": ("USER 10001:10001", "USER root"),
    "command": ('\\"$BOOMERANG_SERVICE_COMMAND\\"', "worker"),
    "package": ('--no-dev --package "boomerang-${SERVICE}"', '--no-dev --package "boomerang-${SERVICE}-x"'),
    "missing-member": ("COPY shared/ shared/\n", ""),
    "unpinned-uv": ("pip install uv==0.13.8", "pip install uv"),
    "host": ("${SERVICE_ENV_PREFIX}HOST=0.0.0.0", "${SERVICE_ENV_PREFIX}HOST=127.0.0.1"),
    "health": ("/healthz'", "/health'"),
    "stage": ("COPY --from=builder", "COPY --from=bilder"),
    "base": ("ARG PYTHON_IMAGE=python:3.11-slim", "ARG PYTHON_IMAGE=python:3.13-slim"),
    # Build args are per stage: the runtime stage must declare the ones it reads.
    "arg-not-redeclared": ("ARG SERVICE_PORT\n", ""),
    # CMD is not expanded at build time: it can only read ENV, never an ARG.
    "cmd-reads-an-arg": ('exec \\"boomerang-$BOOMERANG_SERVICE\\"', 'exec \\"boomerang-$SERVICE\\"'),
}


@pytest.mark.parametrize("case", DOCKERFILE_BREAKS, ids=list(DOCKERFILE_BREAKS))
def test_the_dockerfile_check_rejects_a_broken_dockerfile(case):
    old, new = DOCKERFILE_BREAKS[case]
    assert old in GOOD, old
    assert errors_for("ingest", GOOD.replace(old, new, 1))


BUILD_ARG_BREAKS = {
    "wrong-port": ("ingest", {"SERVICE_PORT": "8080"}),
    "wrong-prefix": ("ingest", {"SERVICE_ENV_PREFIX": "BOOMERANG_INGSET_"}),
    "typo": ("ingest", {"SERVICE_PORT": None, "SERVICE_PROT": "8001"}),
    "other-service": ("messenger", {"SERVICE": "feedback"}),
    "segmenter-serves": ("segmenter", {"SERVICE_COMMAND": None}),
    "sandbox-not-in-services": ("sandbox", {"SERVICE_DIR": None}),
}


@pytest.mark.parametrize("case", BUILD_ARG_BREAKS, ids=list(BUILD_ARG_BREAKS))
def test_the_dockerfile_check_rejects_wrong_build_args(case):
    name, change = BUILD_ARG_BREAKS[case]
    args = {**build_args(name), **change}
    assert errors_for(name, args={k: v for k, v in args.items() if v is not None})


def test_the_healthcheck_run_fails_a_probe_that_ignores_the_port_variable():
    service = ds.SERVICES["ingest"]
    fixed = GOOD.replace("os.environ['BOOMERANG_' + os.environ['BOOMERANG_SERVICE'].upper() + '_PORT']", "'8001'")
    assert fixed != GOOD
    runtime = ds.resolve_dockerfile(fixed, build_args("ingest")).runtime
    code, paths = ds.run_healthcheck(ds.healthcheck_command(runtime), runtime.env, f"{service.env_prefix}PORT")
    assert paths == []  # it probed 8001, not the port the service was moved to
