"""docker-compose.yml: the Compose Specification schema, and the wiring between services."""

from __future__ import annotations

import copy
import re
from urllib.parse import urlsplit

import pytest
import yaml

import deploy_support as ds

COMPOSE = ds.load_compose()
SERVICES = COMPOSE["services"]


def test_compose_file_matches_the_compose_specification():
    errors = ds.compose_schema_errors(ds.COMPOSE_FILE)[ds.COMPOSE_FILE]
    assert not errors, "\n".join(errors)


def test_compose_wiring_is_consistent():
    errors = ds.compose_semantic_errors(COMPOSE)
    assert not errors, "\n".join(errors)


def test_every_depends_on_target_exists():
    for name, service in SERVICES.items():
        for dep in ds.compose_depends_on(service):
            assert dep in SERVICES, f"{name} depends on unknown service {dep}"


def test_published_host_ports_are_unique_and_local():
    ports = [(name, ip, host) for name, s in SERVICES.items() for ip, host, _ in ds.published_ports(s)]
    hosts = [host for _, _, host in ports]
    assert len(hosts) == len(set(hosts)), sorted(hosts)
    for name, ip, host in ports:
        assert ip == "127.0.0.1", f"{name} publishes {host} on {ip}: dev ports stay on loopback"


@pytest.mark.parametrize("name", list(ds.SERVICES))
def test_each_service_is_built_from_the_dockerfile_and_published_on_its_port(name):
    contract = ds.SERVICES[name]
    service = SERVICES[name]
    dockerfile, args = ds.compose_build(service)
    assert dockerfile == ds.DOCKERFILE
    assert args["SERVICE"] == name  # the rest of the args: tests/deploy/test_dockerfiles.py
    assert service["image"] == f"boomerang/{name}:dev"
    assert (contract.port, contract.port) in {(h, c) for _, h, c in ds.published_ports(service)}
    health = " ".join(service["healthcheck"]["test"])
    assert f"127.0.0.1:{contract.port}/healthz" in health


@pytest.mark.parametrize("name", list(ds.SERVICES))
def test_each_service_gets_the_environment_of_the_contract(name):
    contract = ds.SERVICES[name]
    env = ds.compose_environment(SERVICES[name])
    wanted = [contract.env_prefix + suffix for suffix in ds.SERVICE_ENV[name]]
    if name in ds.CORE:
        wanted += list(ds.COMMON_ENV)
    missing = [v for v in wanted if v not in env]
    assert not missing, f"{name} lacks {missing}"
    assert env[contract.env_prefix + "HOST"] == "0.0.0.0"
    assert env[contract.env_prefix + "PORT"] == str(contract.port)
    if name in ds.CORE:
        assert env["BOOMERANG_KAFKA_BOOTSTRAP"] == "kafka:9092"


@pytest.mark.parametrize("name", ds.CORE)
def test_each_service_has_its_own_postgres_database(name):
    env = ds.compose_environment(SERVICES[name])
    url = urlsplit(env[f"BOOMERANG_{name.upper()}_DATABASE_URL"])
    assert url.scheme == "postgresql+psycopg"
    assert (url.hostname, url.port, url.path, url.username) == ("postgres", 5432, f"/{name}", name)
    script = (ds.REPO / "deploy/postgres/initdb/10-boomerang-databases.sh").read_text()
    (loop,) = re.findall(r"for service in ([a-z ]+); do", script)
    assert name in loop.split()
    assert url.password == ds.compose_environment(SERVICES["postgres"])["BOOMERANG_DB_PASSWORD"]


def test_services_wait_for_topics_and_their_database():
    for name in ds.CORE:
        deps = ds.compose_depends_on(SERVICES[name])
        assert deps.get("kafka-init") == "service_completed_successfully", name
        assert deps.get("postgres") == "service_healthy", name
    assert ds.compose_depends_on(SERVICES["messenger"]).get("sandbox") == "service_healthy"


@pytest.mark.parametrize("name", [n for n, s in SERVICES.items() if "build" in s])
def test_named_volumes_of_built_services_are_writable_by_the_service(name):
    """A new named volume takes the owner of the image directory it is mounted on."""
    dockerfile, args = ds.compose_build(SERVICES[name])
    writable = ds.writable_mount_points(ds.resolve_dockerfile(dockerfile.read_text(), args).runtime)
    for volume in SERVICES[name].get("volumes", []):
        source, target = str(volume).split(":")[:2]
        if not source.startswith((".", "/")):
            assert target in writable, f"{name}: volume {source} at {target}, writable are {writable}"


def test_the_volume_check_rejects_a_mount_point_the_image_does_not_make():
    dockerfile, args = ds.compose_build(SERVICES["segmenter"])
    text = dockerfile.read_text()

    def writable(text: str) -> set[str]:
        return ds.writable_mount_points(ds.resolve_dockerfile(text, args).runtime)

    assert "/var/lib/boomerang/segmenter" in writable(text)
    assert "/var/lib/boomerang/other" not in writable(text)  # not made: a new volume would be root's
    chown = "chown -R 10001:10001 /app/build /var/lib/boomerang"
    assert chown in text
    root_owned = text.replace(chown, "chown -R 10001:10001 /app/build")
    assert "/var/lib/boomerang/segmenter" not in writable(root_owned)


def test_kafka_is_a_single_kraft_node():
    kafka = SERVICES["kafka"]
    image, _, tag = kafka["image"].partition(":")
    assert image == "apache/kafka"
    assert tuple(int(x) for x in tag.split(".")[:2]) >= (4, 1), tag
    env = ds.compose_environment(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(env["KAFKA_NODE_ID"] + "@")
    assert "ZOOKEEPER" not in " ".join(env)
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    listeners = dict(item.split("://") for item in env["KAFKA_LISTENERS"].split(","))
    protocols = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(advertised) <= set(listeners) and set(listeners) <= set(protocols)
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in listeners
    # Containers reach kafka:9092; the host reaches localhost:9092 through the published port.
    assert "kafka:9092" in advertised.values()
    host_listener = next(name for name, addr in advertised.items() if addr.startswith("localhost:"))
    host_port = int(advertised[host_listener].rsplit(":", 1)[1])
    container_port = int(listeners[host_listener].rsplit(":", 1)[1])
    assert (host_port, container_port) in {(h, c) for _, h, c in ds.published_ports(kafka)}
    for key in ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"):
        assert env[key] == "1"


def test_topic_init_runs_the_shared_topics_module_against_the_broker():
    init = SERVICES["kafka-init"]
    assert init["image"] == SERVICES["ingest"]["image"]  # ingest's image carries boomerang-shared
    assert init["build"] == SERVICES["ingest"]["build"]  # one tag, one build
    command = init["command"]
    assert command[:3] == ["python", "-m", "boomerang.shared.kafka.topics"]
    assert command[command.index("--bootstrap") + 1] == "kafka:9092"
    assert ds.compose_depends_on(init) == {"kafka": "service_healthy"}
    module = ds.REPO / "shared/src/boomerang/shared/kafka/topics.py"
    assert module.is_file()
    text = module.read_text()
    assert 'if __name__ == "__main__"' in text and "--bootstrap" in text and "--prefix" in text


def test_postgres_is_16_and_initialises_one_database_per_service():
    pg = SERVICES["postgres"]
    assert pg["image"].split(":")[1].split(".")[0].split("-")[0] == "16"
    mounts = {v.split(":")[1]: v.split(":")[0] for v in pg["volumes"]}
    init_dir = ds.REPO / mounts["/docker-entrypoint-initdb.d"]
    scripts = sorted(init_dir.iterdir())
    assert [p.name for p in scripts] == ["10-boomerang-databases.sh"]
    text = scripts[0].read_text()
    assert text.startswith("#!") and "ON_ERROR_STOP=1" in text
    (loop,) = re.findall(r"for service in ([a-z ]+); do", text)
    assert loop.split() == list(ds.CORE)


def test_sandbox_and_feedback_share_the_dev_webhook_key():
    serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    import base64

    sandbox = SERVICES["sandbox"]
    key_path = ds.compose_environment(sandbox)["BOOMERANG_SANDBOX_SENDGRID_WEBHOOK_PRIVATE_KEY_PATH"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in sandbox["volumes"]}
    pem = (ds.REPO / mounts[key_path]).read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    public = base64.b64encode(
        key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).decode()
    assert ds.compose_environment(SERVICES["feedback"])["BOOMERANG_FEEDBACK_SENDGRID_WEBHOOK_PUBLIC_KEY"] == public
    component = ds.REPO / "deploy/k8s/components/provider-sandbox"
    assert (component / "sendgrid-webhook-dev.pub").read_text().strip() == public
    assert f"sendgrid-webhook-public-key={public}" in (component / "kustomization.yaml").read_text()
    # Twilio: the sandbox signs with the token the messenger uses and feedback verifies with.
    tokens = {
        ds.compose_environment(SERVICES["sandbox"])["BOOMERANG_SANDBOX_TWILIO_AUTH_TOKEN"],
        ds.compose_environment(SERVICES["messenger"])["BOOMERANG_MESSENGER_TWILIO_AUTH_TOKEN"],
        ds.compose_environment(SERVICES["feedback"])["BOOMERANG_FEEDBACK_TWILIO_AUTH_TOKEN"],
    }
    assert len(tokens) == 1


def test_messenger_talks_to_the_sandbox_not_the_real_providers():
    env = ds.compose_environment(SERVICES["messenger"])
    for key in ("BOOMERANG_MESSENGER_SENDGRID_BASE_URL", "BOOMERANG_MESSENGER_TWILIO_BASE_URL"):
        assert env[key] == "http://sandbox:8025"
    assert ds.compose_environment(SERVICES["sandbox"])["BOOMERANG_SANDBOX_FEEDBACK_URL"] == "http://feedback:8004"


# ---------------------------------------------------------------------------- the validators fail


BROKEN_COMPOSE = {
    "typo": lambda c: c["services"]["ingest"].update(dependson=["kafka"]),
    "wrong-type": lambda c: c["services"]["ingest"].update(ports="8001:8001"),
    "bad-healthcheck-field": lambda c: c["services"]["ingest"]["healthcheck"].update(intervall="10s"),
    "bad-depends-on-condition": lambda c: c["services"]["ingest"].update(
        depends_on={"kafka": {"condition": "service_happy"}}),
    "unknown-top-level": lambda c: c.update(servics={}),
}


def test_the_schema_check_rejects_broken_compose_files(tmp_path):
    original = yaml.safe_load(ds.COMPOSE_FILE.read_text())
    files = {}
    for case, mutate in BROKEN_COMPOSE.items():
        broken = copy.deepcopy(original)
        mutate(broken)
        files[case] = tmp_path / f"{case}.yml"
        files[case].write_text(yaml.safe_dump(broken))
    # The unmodified file, round-tripped the same way, must pass: the failures are the mutations.
    files["control"] = tmp_path / "control.yml"
    files["control"].write_text(yaml.safe_dump(original))
    result = ds.compose_schema_errors(*files.values())
    assert result[files["control"]] == []
    for case in BROKEN_COMPOSE:
        assert result[files[case]], f"{case} was accepted"


def _set(mapping: dict, key: str, value) -> None:
    mapping[key] = value


WIRING_BREAKS = {
    "unknown-dependency": (
        lambda c: c["services"]["ingest"]["depends_on"].update(zookeeper={"condition": "service_started"}),
        "unknown service",
    ),
    "duplicate-port": (lambda c: _set(c["services"]["grafana"], "ports", ["127.0.0.1:8001:3000"]), "host port 8001"),
    "cycle": (lambda c: _set(c["services"]["kafka"], "depends_on", {"ingest": {"condition": "service_started"}}), "cycle"),
    "unhealthy-dependency": (
        lambda c: _set(c["services"]["grafana"], "depends_on", {"prometheus": {"condition": "service_healthy"}}),
        "no healthcheck",
    ),
    "missing-bind-mount": (lambda c: c["services"]["grafana"]["volumes"].append("./deploy/grafana/nowhere:/x:ro"), "does not exist"),
    "missing-dockerfile": (
        lambda c: _set(c["services"]["ingest"], "build", {"context": ".", "dockerfile": "Dockerfile.missing"}),
        "not found",
    ),
    "undeclared-volume": (lambda c: c["services"]["grafana"]["volumes"].append("grafana-typo:/var/lib/x"), "not declared"),
}


@pytest.mark.parametrize("case", WIRING_BREAKS, ids=list(WIRING_BREAKS))
def test_the_wiring_check_rejects_broken_wiring(case):
    mutate, message = WIRING_BREAKS[case]
    broken = copy.deepcopy(COMPOSE)  # (aliased YAML anchors stay shared; harmless here)
    mutate(broken)
    errors = ds.compose_semantic_errors(broken)
    assert any(message in e for e in errors), errors


def test_the_segmenter_query_api_runs_the_segmenter_image_on_the_workers_database():
    api, worker = SERVICES["segmenter-api"], SERVICES["segmenter"]
    contract = ds.COMMANDS_OF_CORE["segmenter-api"]
    assert api["image"] == worker["image"] and api["build"] == worker["build"]  # one tag, one build
    assert api["command"] == [contract.script, contract.command]
    env, worker_env = ds.compose_environment(api), ds.compose_environment(worker)
    missing = [contract.env_prefix + s for s in ds.SERVICE_ENV["segmenter-api"] if contract.env_prefix + s not in env]
    assert not missing
    assert env["BOOMERANG_SEGMENTER_HOST"] == "0.0.0.0"
    assert env["BOOMERANG_SEGMENTER_API_PORT"] == str(contract.port)
    # The snapshot store the worker writes, in PostgreSQL: SQLite would need a shared volume.
    assert env["BOOMERANG_SEGMENTER_DATABASE_URL"] == worker_env["BOOMERANG_SEGMENTER_DATABASE_URL"]
    assert urlsplit(env["BOOMERANG_SEGMENTER_DATABASE_URL"]).scheme == "postgresql+psycopg"
    assert ("127.0.0.1", contract.port, contract.port) in set(ds.published_ports(api))
    # Its own health check: the image's probes the worker's port (BOOMERANG_SEGMENTER_PORT).
    assert f"127.0.0.1:{contract.port}/healthz" in " ".join(api["healthcheck"]["test"])
    assert ds.compose_depends_on(api).get("postgres") == "service_healthy"
    prometheus = yaml.safe_load((ds.REPO / "deploy/prometheus/prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in prometheus["scrape_configs"]}
    assert jobs["boomerang-segmenter-api"]["static_configs"][0]["targets"] == [f"segmenter-api:{contract.port}"]
