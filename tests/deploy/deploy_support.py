"""Offline validators for docker-compose.yml, deploy/k8s and the Dockerfile.

Every check here is a plain function that returns a list of error strings (or raises
`ManifestError`), so the tests can feed it both the real files and deliberately broken ones
and prove that a bad manifest fails.

Nothing here needs Docker, a cluster or the network. Tools:
  * kubernetes-validate: the Kubernetes OpenAPI schemas, bundled, strict mode (unknown fields fail)
  * check-jsonschema: its vendored Compose Specification schema (`vendor.compose-spec`)
  * jsonschema: the hand-written subset schemas of the operator CRDs below
  * kustomize: built once by scripts/install-kustomize.sh (Go module proxy), cached
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import jsonschema
import kubernetes_validate
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S_DIR = REPO / "deploy" / "k8s"
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"  # the one image recipe; build args choose the service

# Oldest Kubernetes we claim to support, and a current one: manifests must validate on both.
K8S_VERSIONS = ("1.31.0", "1.34.0")

# The kustomizations that must render: the base, every overlay.
KUSTOMIZATIONS = ("base", "overlays/dev", "overlays/prod", "overlays/prod-operators")
NAMESPACES = {
    "base": "boomerang",
    "overlays/dev": "boomerang-dev",
    "overlays/prod": "boomerang-prod",
    "overlays/prod-operators": "boomerang-prod",
}


# --------------------------------------------------------------------------- the contract
@dataclass(frozen=True)
class Service:
    name: str
    directory: str  # workspace member directory
    command: str  # console-script sub-command
    port: int
    health_only: bool = False  # the sandbox has /healthz but no /readyz or /metrics
    of: str | None = None  # another command of this service's image and settings (the query API)
    port_setting: str = "PORT"  # the setting (after the prefix) that holds `port`

    @property
    def package(self) -> str:
        return f"boomerang-{self.of or self.name}"

    @property
    def script(self) -> str:
        return f"boomerang-{self.of or self.name}"

    @property
    def env_prefix(self) -> str:
        return f"BOOMERANG_{(self.of or self.name).upper()}_"


SERVICES = {
    s.name: s
    for s in (
        Service("ingest", "services/ingest", "serve", 8001),
        Service("segmenter", "services/segmenter", "worker", 8002),
        Service("messenger", "services/messenger", "serve", 8003),
        Service("feedback", "services/feedback", "serve", 8004),
        Service("sandbox", "tools/sandbox", "serve", 8025, health_only=True),
    )
}
CORE = ("ingest", "segmenter", "messenger", "feedback")
# Workloads that run another command of a core service's image, with that service's settings:
# the segmenter's query API reads the snapshot store the segmenter worker writes.
COMMANDS_OF_CORE = {
    "segmenter-api": Service("segmenter-api", "services/segmenter", "api", 8005, of="segmenter", port_setting="API_PORT"),
}
# What Kubernetes and compose run in every environment (the dev sandbox aside).
WORKLOADS = CORE + tuple(COMMANDS_OF_CORE)

COMMON_ENV = ("BOOMERANG_KAFKA_BOOTSTRAP", "BOOMERANG_TOPIC_PREFIX", "BOOMERANG_LOG_LEVEL")
# Environment each service must be given (besides COMMON_ENV); suffixes after the prefix.
SERVICE_ENV = {
    "ingest": ("HOST", "PORT", "DATABASE_URL"),
    "segmenter": ("HOST", "PORT", "DATABASE_URL", "DATA_DIR"),
    "segmenter-api": ("HOST", "API_PORT", "DATABASE_URL"),
    "messenger": (
        "HOST", "PORT", "DATABASE_URL",
        "SENDGRID_API_KEY", "SENDGRID_BASE_URL",
        "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_BASE_URL",
        "FROM_EMAIL", "REPLY_TO_EMAIL", "SMS_FROM",
    ),
    "feedback": ("HOST", "PORT", "DATABASE_URL", "SENDGRID_WEBHOOK_PUBLIC_KEY"),
    "sandbox": ("HOST", "PORT", "FEEDBACK_URL"),
}
# Credentials: in Kubernetes these must come from a Secret, never from a ConfigMap.
SECRET_ENV = {
    "messenger": ("BOOMERANG_MESSENGER_SENDGRID_API_KEY", "BOOMERANG_MESSENGER_TWILIO_AUTH_TOKEN", "BOOMERANG_LINK_SIGNING_KEY"),
    "feedback": ("BOOMERANG_FEEDBACK_SENDGRID_WEBHOOK_PUBLIC_KEY", "BOOMERANG_LINK_SIGNING_KEY"),
}
# Secrets the base and prod overlays reference but do not create (made out of band).
EXTERNAL_SECRETS = {
    "ingest-db", "segmenter-db", "messenger-db", "feedback-db",
    "messenger-providers", "feedback-webhooks", "boomerang-links",
}

METRIC_NAME = re.compile(r"^boomerang_(ingest|segmenter|messenger|feedback)_[a-z0-9_]+_(total|seconds|seconds_bucket|seconds_sum|seconds_count|bytes|ratio|info)$")


class ManifestError(Exception):
    """A manifest failed validation."""


def load_yaml_documents(path: Path) -> list[dict]:
    with path.open() as f:
        return [d for d in yaml.safe_load_all(f) if d]


# --------------------------------------------------------------------------- kustomize
def kustomize_binary() -> str:
    """Path of the pinned kustomize; builds it once (scripts/install-kustomize.sh)."""
    override = os.environ.get("BOOMERANG_KUSTOMIZE")
    if override:
        return override
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "install-kustomize.sh")],
        capture_output=True, text=True, timeout=280,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"scripts/install-kustomize.sh failed:\n{proc.stderr[-3000:]}")
    return proc.stdout.strip().splitlines()[-1]


def kustomize_build(kustomize: str, directory: Path) -> tuple[list[dict], str]:
    """Render one kustomization; returns its resources and whatever kustomize warned."""
    proc = subprocess.run(
        [kustomize, "build", str(directory)], capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        raise ManifestError(f"kustomize build {directory} failed:\n{proc.stderr}")
    return [d for d in yaml.safe_load_all(proc.stdout) if d], proc.stderr


def kustomization_files(directory: Path, seen: set[Path] | None = None) -> list[Path]:
    """The plain resource files a kustomization (and the bases/components it names) lists.

    The no-kustomize fallback: each file is validated on its own. Patches and generators are
    not resources and so are not included.
    """
    seen = set() if seen is None else seen
    directory = directory.resolve()
    if directory in seen:
        return []
    seen.add(directory)
    kfile = next(
        (directory / n for n in ("kustomization.yaml", "kustomization.yml", "Kustomization")
         if (directory / n).exists()),
        None,
    )
    if kfile is None:
        raise ManifestError(f"{directory} has no kustomization.yaml")
    k = yaml.safe_load(kfile.read_text()) or {}
    files: list[Path] = []
    for entry in list(k.get("resources", [])) + list(k.get("components", [])):
        target = (directory / entry).resolve()
        if target.is_dir():
            files += kustomization_files(target, seen)
        elif target.is_file():
            files.append(target)
        else:
            raise ManifestError(f"{kfile}: listed resource {entry} does not exist")
    return files


# --------------------------------------------------------------------------- schemas
OPERATOR_KINDS = {
    ("keda.sh", "ScaledObject"),
    ("monitoring.coreos.com", "ServiceMonitor"),
    ("monitoring.coreos.com", "PodMonitor"),
    ("monitoring.coreos.com", "PrometheusRule"),
    ("kafka.strimzi.io", "KafkaTopic"),
}


def api_group(resource: dict) -> str:
    api = resource.get("apiVersion", "")
    return api.split("/")[0] if "/" in api else ""


def validate_k8s_resource(resource: dict, version: str) -> None:
    """Strict schema validation of one resource; raises ManifestError.

    Core kinds go through kubernetes-validate (strict: unknown fields fail). A kind it has no
    schema for is an error, not a warning, unless it is one of the operator CRDs, which get
    the subset schemas of `validate_custom_resource`.
    """
    if not isinstance(resource, dict) or "apiVersion" not in resource or "kind" not in resource:
        raise ManifestError(f"not a Kubernetes object (apiVersion and kind are required): {str(resource)[:200]}")
    name = f"{resource['kind']}/{(resource.get('metadata') or {}).get('name', '?')}"
    if (api_group(resource), resource["kind"]) in OPERATOR_KINDS:
        validate_custom_resource(resource, version)
        return
    try:
        kubernetes_validate.validate(resource, version, strict=True)
    except kubernetes_validate.ValidationError as e:
        path = ".".join(str(p) for p in e.path)
        raise ManifestError(f"{name} is invalid for Kubernetes {e.version}: {path}: {e.message}") from None
    except kubernetes_validate.SchemaNotFoundError as e:
        raise ManifestError(f"{name}: {e.message}") from None
    problems = apiserver_errors(resource)
    if problems:
        raise ManifestError(f"{name}: " + "; ".join(problems))


# The OpenAPI schemas leave names and labels as free strings; the API server does not.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_NAMED_KINDS = {"Namespace": _DNS_LABEL, "Service": _DNS_1035_LABEL}


def _label_errors(labels: dict, where: str) -> list[str]:
    errors = []
    for key, value in (labels or {}).items():
        prefix, _, local = key.rpartition("/")
        if (prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix))) or len(local) > 63 or not _LABEL_NAME.match(local):
            errors.append(f"{where}: invalid label key {key!r}")
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            errors.append(f"{where}: invalid label value {key}={value!r}")
    return errors


def apiserver_errors(resource: dict) -> list[str]:
    """A subset of the API server's own validation: object, container and port names, labels."""
    errors: list[str] = []
    meta = resource.get("metadata") or {}
    name = meta.get("name", "")
    pattern = _LABEL_NAMED_KINDS.get(resource.get("kind"), _DNS_SUBDOMAIN)
    limit = 63 if pattern is not _DNS_SUBDOMAIN else 253
    if not name or len(name) > limit or not pattern.match(name):
        errors.append(f"metadata.name {name!r} is not a valid {resource.get('kind')} name")
    errors += _label_errors(meta.get("labels"), "metadata.labels")
    spec = resource.get("spec") or {}
    template = spec.get("template") if isinstance(spec, dict) else None
    if isinstance(template, dict):
        errors += _label_errors((template.get("metadata") or {}).get("labels"), "template labels")
        errors += _label_errors((spec.get("selector") or {}).get("matchLabels"), "selector")
        pod = template.get("spec") or {}
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            if not _DNS_LABEL.match(c.get("name", "")):
                errors.append(f"container name {c.get('name')!r} is not a DNS label")
            for p in c.get("ports", []):
                pname = p.get("name")
                if pname is not None and (len(pname) > 15 or not _PORT_NAME.match(pname) or not re.search("[a-z]", pname)):
                    errors.append(f"port name {pname!r} is not an IANA service name (<= 15 chars)")
    if resource.get("kind") == "Service":
        errors += _label_errors(spec.get("selector"), "selector")
    return errors


def k8s_schema_errors(resources: Iterable[dict], versions: Iterable[str] = K8S_VERSIONS) -> list[str]:
    errors = []
    for version in versions:
        for r in resources:
            try:
                validate_k8s_resource(r, version)
            except ManifestError as e:
                errors.append(str(e))
    return errors


_STR = {"type": "string", "minLength": 1}
_INT_OR_STR = {"type": ["integer", "string"]}
_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": _STR, "namespace": _STR, "labels": {"type": "object"}},
}


def _cr(api_versions: list[str], kind: str, spec: dict) -> dict:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"enum": api_versions},
            "kind": {"const": kind},
            "metadata": _METADATA,
            "spec": spec,
        },
    }


# Hand-written subsets of the operators' CRD schemas (KEDA 2.x, Prometheus Operator v1,
# Strimzi v1beta2): the required fields and types, and the known field names at the levels
# where a typo would silently do nothing.
CRD_SCHEMAS: dict[str, dict] = {
    "ScaledObject": _cr(["keda.sh/v1alpha1"], "ScaledObject", {
        "type": "object",
        "required": ["scaleTargetRef", "triggers"],
        "additionalProperties": False,
        "properties": {
            "scaleTargetRef": {
                "type": "object", "required": ["name"], "additionalProperties": False,
                "properties": {"apiVersion": _STR, "kind": _STR, "name": _STR, "envSourceContainerName": _STR},
            },
            "pollingInterval": {"type": "integer", "minimum": 1},
            "cooldownPeriod": {"type": "integer", "minimum": 0},
            "initialCooldownPeriod": {"type": "integer", "minimum": 0},
            "idleReplicaCount": {"type": "integer", "minimum": 0},
            "minReplicaCount": {"type": "integer", "minimum": 0},
            "maxReplicaCount": {"type": "integer", "minimum": 1},
            "advanced": {"type": "object"},
            "fallback": {"type": "object"},
            "triggers": {
                "type": "array", "minItems": 1,
                "items": {
                    "type": "object", "required": ["type", "metadata"], "additionalProperties": False,
                    "properties": {
                        "type": _STR, "name": _STR, "useCachedMetrics": {"type": "boolean"},
                        "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                        "authenticationRef": {"type": "object"},
                        # KEDA trigger metadata is a map of strings.
                        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                },
            },
        },
    }),
    "ServiceMonitor": _cr(["monitoring.coreos.com/v1"], "ServiceMonitor", {
        "type": "object",
        "required": ["selector", "endpoints"],
        "properties": {
            "jobLabel": _STR,
            "selector": {"type": "object", "minProperties": 1},
            "namespaceSelector": {"type": "object"},
            "endpoints": {
                "type": "array", "minItems": 1,
                "items": {
                    "type": "object",
                    "anyOf": [{"required": ["port"]}, {"required": ["targetPort"]}],
                    "properties": {
                        "port": _STR, "targetPort": _INT_OR_STR, "path": {"type": "string", "pattern": "^/"},
                        "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]},
                        "interval": {"type": "string", "pattern": r"^(\d+(ms|s|m|h))+$"},
                        "scrapeTimeout": {"type": "string", "pattern": r"^(\d+(ms|s|m|h))+$"},
                    },
                },
            },
        },
    }),
    "PrometheusRule": _cr(["monitoring.coreos.com/v1"], "PrometheusRule", {
        "type": "object",
        "required": ["groups"],
        "additionalProperties": False,
        "properties": {
            "groups": {
                "type": "array", "minItems": 1,
                "items": {
                    "type": "object", "required": ["name", "rules"],
                    "properties": {
                        "name": _STR, "interval": _STR,
                        "rules": {
                            "type": "array", "minItems": 1,
                            "items": {
                                "type": "object", "required": ["expr"], "additionalProperties": False,
                                "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
                                "properties": {
                                    "alert": _STR, "record": _STR, "expr": _STR,
                                    "for": {"type": "string", "pattern": r"^(\d+(ms|s|m|h|d|w|y))+$"},
                                    "keep_firing_for": _STR,
                                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                    "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                                },
                            },
                        },
                    },
                },
            },
        },
    }),
    "KafkaTopic": _cr(["kafka.strimzi.io/v1beta2", "kafka.strimzi.io/v1"], "KafkaTopic", {
        "type": "object",
        "required": ["partitions", "replicas"],
        "additionalProperties": False,
        "properties": {
            "topicName": _STR,
            "partitions": {"type": "integer", "minimum": 1},
            "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
            "config": {"type": "object", "additionalProperties": {"type": ["string", "integer", "boolean", "number"]}},
        },
    }),
}
CRD_SCHEMAS["PodMonitor"] = CRD_SCHEMAS["ServiceMonitor"]


def validate_custom_resource(resource: dict, version: str = K8S_VERSIONS[0]) -> None:
    name = f"{resource.get('kind')}/{(resource.get('metadata') or {}).get('name', '?')}"
    schema = CRD_SCHEMAS.get(resource.get("kind", ""))
    if schema is None:
        raise ManifestError(f"{name}: no schema for this custom resource kind")
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(resource), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        raise ManifestError(f"{name}: {'.'.join(map(str, e.path)) or '<root>'}: {e.message}")
    # The CR's metadata is an ordinary ObjectMeta: check it with the real schema.
    shell = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": resource["metadata"]}
    try:
        kubernetes_validate.validate(shell, version, strict=True)
    except kubernetes_validate.ValidationError as e:
        raise ManifestError(f"{name}: metadata: {e.message}") from None
    if resource["kind"] == "KafkaTopic" and "strimzi.io/cluster" not in resource["metadata"].get("labels", {}):
        raise ManifestError(f"{name}: the Topic Operator needs the strimzi.io/cluster label")
    problems = apiserver_errors(resource)
    if problems:
        raise ManifestError(f"{name}: " + "; ".join(problems))


# --------------------------------------------------------------------------- k8s semantics
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


def _by_kind(resources: list[dict], kind: str) -> list[dict]:
    return [r for r in resources if r.get("kind") == kind]


def _selector_matches(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def _service_of(workload: dict) -> Service | None:
    known = SERVICES | COMMANDS_OF_CORE
    for c in _pod_spec(workload)["containers"]:
        if c["name"] in known:
            return known[c["name"]]
    return None


def effective_env(resources: list[dict], container: dict) -> dict[str, Any]:
    """The container's environment: envFrom ConfigMaps (values) then env (values or refs)."""
    configmaps = {r["metadata"]["name"]: r.get("data", {}) for r in _by_kind(resources, "ConfigMap")}
    env: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(configmaps.get(source["configMapRef"]["name"], {}))
    for e in container.get("env", []):
        env[e["name"]] = e.get("value", e.get("valueFrom"))
    return env


def k8s_semantic_errors(resources: list[dict], namespace: str | None, *, self_contained: bool = False,
                        prod: bool = False) -> list[str]:
    """What a schema cannot see: selectors, references, probes, the env contract, security."""
    errors: list[str] = []
    workloads = [r for r in resources if r.get("kind") in WORKLOAD_KINDS]
    names = {(r["kind"], r["metadata"]["name"]) for r in resources}
    secrets = {r["metadata"]["name"] for r in _by_kind(resources, "Secret")}
    configmaps = {r["metadata"]["name"] for r in _by_kind(resources, "ConfigMap")}

    for r in resources:
        ns = r.get("metadata", {}).get("namespace")
        if r.get("kind") == "Namespace":
            if namespace and r["metadata"]["name"] != namespace:
                errors.append(f"Namespace object is {r['metadata']['name']}, expected {namespace}")
        elif namespace and ns != namespace:
            errors.append(f"{r['kind']}/{r['metadata']['name']} is in namespace {ns!r}, expected {namespace!r}")

    for w in workloads:
        wname = f"{w['kind']}/{w['metadata']['name']}"
        spec = w["spec"]
        tmpl_labels = spec["template"]["metadata"].get("labels", {})
        if not _selector_matches(spec["selector"].get("matchLabels", {}), tmpl_labels):
            errors.append(f"{wname}: selector does not match its pod template labels")
        pod = _pod_spec(w)
        psc = pod.get("securityContext", {})
        if psc.get("runAsNonRoot") is not True:
            errors.append(f"{wname}: pod securityContext.runAsNonRoot must be true")
        if psc.get("runAsUser") == 0:
            errors.append(f"{wname}: runs as uid 0")
        if psc.get("seccompProfile", {}).get("type") not in ("RuntimeDefault", "Localhost"):
            errors.append(f"{wname}: seccompProfile must be RuntimeDefault (Pod Security 'restricted')")
        if pod.get("automountServiceAccountToken") is not False:
            errors.append(f"{wname}: automountServiceAccountToken should be false (no API access needed)")
        sa = pod.get("serviceAccountName")
        if sa and ("ServiceAccount", sa) not in names:
            errors.append(f"{wname}: ServiceAccount {sa} is not in the render")
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        claim_names = {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])}
        for v in volumes.values():
            if "secret" in v and v["secret"]["secretName"] not in secrets and (self_contained or v["secret"]["secretName"] not in EXTERNAL_SECRETS):
                errors.append(f"{wname}: volume {v['name']} uses missing Secret {v['secret']['secretName']}")
            if "configMap" in v and v["configMap"]["name"] not in configmaps:
                errors.append(f"{wname}: volume {v['name']} uses missing ConfigMap {v['configMap']['name']}")
        for c in pod["containers"]:
            cname = f"{wname} container {c['name']}"
            csc = c.get("securityContext", {})
            if csc.get("allowPrivilegeEscalation") is not False:
                errors.append(f"{cname}: allowPrivilegeEscalation must be false")
            if "ALL" not in csc.get("capabilities", {}).get("drop", []):
                errors.append(f"{cname}: must drop ALL capabilities")
            if csc.get("privileged"):
                errors.append(f"{cname}: privileged")
            res = c.get("resources", {})
            for part in ("requests", "limits"):
                for what in ("cpu", "memory"):
                    if what not in res.get(part, {}):
                        errors.append(f"{cname}: resources.{part}.{what} missing")
            image = c.get("image", "")
            if ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"):
                errors.append(f"{cname}: image {image!r} needs an explicit, non-latest tag")
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes and m["name"] not in claim_names:
                    errors.append(f"{cname}: volumeMount {m['name']} has no volume")
            for source in c.get("envFrom", []):
                if "configMapRef" in source and source["configMapRef"]["name"] not in configmaps:
                    errors.append(f"{cname}: envFrom ConfigMap {source['configMapRef']['name']} is not in the render")
                if "secretRef" in source:
                    s = source["secretRef"]["name"]
                    if s not in secrets and (self_contained or s not in EXTERNAL_SECRETS):
                        errors.append(f"{cname}: envFrom Secret {s} is neither rendered nor a known external Secret")
            for e in c.get("env", []):
                ref = (e.get("valueFrom") or {})
                if "secretKeyRef" in ref:
                    s = ref["secretKeyRef"]["name"]
                    if s in secrets:
                        data = next(r for r in _by_kind(resources, "Secret") if r["metadata"]["name"] == s)
                        keys = set(data.get("data", {})) | set(data.get("stringData", {}))
                        if ref["secretKeyRef"]["key"] not in keys and not ref["secretKeyRef"].get("optional"):
                            errors.append(f"{cname}: Secret {s} has no key {ref['secretKeyRef']['key']}")
                    elif self_contained or s not in EXTERNAL_SECRETS:
                        errors.append(f"{cname}: env {e['name']} uses Secret {s}, neither rendered nor a known external Secret")
                if "configMapKeyRef" in ref and ref["configMapKeyRef"]["name"] not in configmaps:
                    errors.append(f"{cname}: env {e['name']} uses missing ConfigMap {ref['configMapKeyRef']['name']}")

        svc = _service_of(w)
        if svc is None:
            errors.append(f"{wname}: no container named after a known service")
            continue
        c = next(c for c in pod["containers"] if c["name"] == svc.name)
        cname = f"{wname} container {c['name']}"
        if c.get("command") and c["command"] != [svc.script, svc.command]:
            errors.append(f"{cname}: command {c['command']} is not [{svc.script!r}, {svc.command!r}]")
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        if ports.get("http") != svc.port:
            errors.append(f"{cname}: needs a port named http = {svc.port}, has {ports}")
        probes = {
            "livenessProbe": "/healthz",
            "readinessProbe": "/healthz" if svc.health_only else "/readyz",
        }
        for probe, path in probes.items():
            get = c.get(probe, {}).get("httpGet", {})
            if get.get("path") != path or get.get("port") not in ("http", svc.port):
                errors.append(f"{cname}: {probe} must GET {path} on the http port, has {get}")
        env = effective_env(resources, c)
        wanted = list(COMMON_ENV) + [svc.env_prefix + s for s in SERVICE_ENV[svc.name]]
        for var in wanted:
            if var not in env:
                errors.append(f"{cname}: environment lacks {var}")
        if env.get(svc.env_prefix + "HOST") not in (None, "0.0.0.0"):
            errors.append(f"{cname}: {svc.env_prefix}HOST must be 0.0.0.0 in a pod")
        if str(env.get(svc.env_prefix + svc.port_setting, svc.port)) != str(svc.port):
            errors.append(f"{cname}: {svc.env_prefix}{svc.port_setting} is not {svc.port}")
        for var in SECRET_ENV.get(svc.name, ()):
            if not (isinstance(env.get(var), dict) and "secretKeyRef" in env[var]):
                errors.append(f"{cname}: {var} must come from a Secret (secretKeyRef)")
        if svc.name == "segmenter":
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            data_dir = env.get("BOOMERANG_SEGMENTER_DATA_DIR")
            if data_dir not in mounts:
                errors.append(f"{cname}: BOOMERANG_SEGMENTER_DATA_DIR {data_dir!r} is not a mounted volume")
        if prod and svc.name in WORKLOADS:
            url = env.get(svc.env_prefix + "DATABASE_URL")
            if not (isinstance(url, dict) and "secretKeyRef" in url):
                errors.append(f"{cname}: in prod {svc.env_prefix}DATABASE_URL must come from a Secret")
            if "PGPASSWORD" in env:
                errors.append(f"{cname}: in prod the whole URL is a Secret; PGPASSWORD should be gone")
            if spec.get("replicas", 1) < 2:
                errors.append(f"{wname}: prod needs at least 2 replicas, has {spec.get('replicas', 1)}")

    services = _by_kind(resources, "Service")
    for s in services:
        sname = f"Service/{s['metadata']['name']}"
        selector = s["spec"].get("selector", {})
        targets = [w for w in workloads if _selector_matches(selector, w["spec"]["template"]["metadata"].get("labels", {}))]
        if not targets:
            errors.append(f"{sname}: selector {selector} matches no workload")
            continue
        for port in s["spec"].get("ports", []):
            tp = port.get("targetPort", port["port"])
            for w in targets:
                cports = {p.get("name"): p["containerPort"] for c in _pod_spec(w)["containers"] for p in c.get("ports", [])}
                if tp not in cports and tp not in cports.values():
                    errors.append(f"{sname}: targetPort {tp} is not a container port of {w['metadata']['name']}")
    for w in workloads:
        if w["kind"] == "StatefulSet":
            gov = w["spec"].get("serviceName")
            if ("Service", gov) not in names:
                errors.append(f"StatefulSet/{w['metadata']['name']}: governing Service {gov} is not in the render")

    pdbs = _by_kind(resources, "PodDisruptionBudget")
    for p in pdbs:
        sel = p["spec"]["selector"].get("matchLabels", {})
        matched = [w for w in workloads if _selector_matches(sel, w["spec"]["template"]["metadata"].get("labels", {}))]
        if len(matched) != 1:
            errors.append(f"PodDisruptionBudget/{p['metadata']['name']}: selects {len(matched)} workloads, expected 1")
        for w in matched:
            if "minAvailable" in p["spec"] and isinstance(p["spec"]["minAvailable"], int) and p["spec"]["minAvailable"] >= w["spec"].get("replicas", 1):
                errors.append(f"PodDisruptionBudget/{p['metadata']['name']}: minAvailable blocks every drain")
    if prod:
        covered = {w["metadata"]["name"] for p in pdbs for w in workloads
                   if _selector_matches(p["spec"]["selector"].get("matchLabels", {}), w["spec"]["template"]["metadata"].get("labels", {}))}
        for w in workloads:
            if w["metadata"]["name"] in WORKLOADS and w["metadata"]["name"] not in covered:
                errors.append(f"{w['kind']}/{w['metadata']['name']}: prod needs a PodDisruptionBudget")

    for so in [r for r in resources if r.get("kind") == "ScaledObject"]:
        ref = so["spec"]["scaleTargetRef"]
        if (ref.get("kind", "Deployment"), ref["name"]) not in names:
            errors.append(f"ScaledObject/{so['metadata']['name']}: target {ref} is not in the render")
    return errors


# --------------------------------------------------------------------------- compose
def compose_schema_errors(*paths: Path) -> dict[Path, list[str]]:
    """Validate against the Compose Specification schema vendored by check-jsonschema.

    One check-jsonschema run for all `paths`; returns each file's errors (empty when valid).
    """
    proc = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         "--output-format", "json", *map(str, paths)],
        capture_output=True, text=True, timeout=120,
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise ManifestError(f"check-jsonschema failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}") from None
    result: dict[Path, list[str]] = {Path(p): [] for p in paths}
    for e in report.get("errors", []):
        deep = (e.get("best_deep_match") or {}).get("message", "")
        result[Path(e["filename"])].append(f"{e['path']}: {e['message']}" + (f" ({deep})" if deep else ""))
    for e in report.get("parse_errors", []):
        result[Path(e.get("filename", paths[0]))].append(f"parse error: {e}")
    if proc.returncode != 0 and not any(result.values()):
        raise ManifestError(f"check-jsonschema exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return result


_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def interpolate(value: Any, env: dict[str, str] | None = None) -> Any:
    """Compose-style ${VAR:-default} interpolation with the defaults (or `env`)."""
    env = env or {}
    if isinstance(value, str):
        return _INTERPOLATION.sub(lambda m: env.get(m.group(1), m.group(2) or ""), value).replace("$$", "$")
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    return value


def load_compose(path: Path = COMPOSE_FILE) -> dict:
    return interpolate(yaml.safe_load(path.read_text()))


def _compose_mapping(value: dict | list | None) -> dict[str, str]:
    """A compose `KEY: value` mapping or `KEY=value` list (environment, build args) as strings."""
    if isinstance(value, list):
        value = dict(item.split("=", 1) if "=" in item else (item, "") for item in value)
    return {k: "" if v is None else str(v) for k, v in (value or {}).items()}


def compose_environment(service: dict) -> dict[str, str]:
    return _compose_mapping(service.get("environment"))


def compose_build(service: dict, repo: Path = REPO) -> tuple[Path, dict[str, str]] | None:
    """(Dockerfile, build args) of a service compose builds; None for one it pulls."""
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        build = {"context": build}
    return repo / build.get("context", ".") / build.get("dockerfile", "Dockerfile"), _compose_mapping(build.get("args"))


def compose_depends_on(service: dict) -> dict[str, str]:
    deps = service.get("depends_on", {})
    if isinstance(deps, list):
        return {d: "service_started" for d in deps}
    return {k: (v or {}).get("condition", "service_started") for k, v in deps.items()}


def published_ports(service: dict) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) for every published port."""
    out = []
    for p in service.get("ports", []):
        if isinstance(p, dict):
            if p.get("published") is not None:
                out.append((p.get("host_ip", "0.0.0.0"), int(p["published"]), int(p["target"])))
            continue
        spec = str(p).split("/")[0]
        parts = spec.rsplit(":", 2) if spec.count(":") >= 2 else spec.split(":")
        if len(parts) == 3:
            out.append((parts[0], int(parts[1]), int(parts[2])))
        elif len(parts) == 2:
            out.append(("0.0.0.0", int(parts[0]), int(parts[1])))
    return out


def compose_semantic_errors(compose: dict, repo: Path = REPO) -> list[str]:
    errors: list[str] = []
    services: dict = compose.get("services", {})
    for name, s in services.items():
        for dep, condition in compose_depends_on(s).items():
            if dep not in services:
                errors.append(f"{name}: depends_on unknown service {dep!r}")
                continue
            target = services[dep]
            if condition == "service_healthy" and not (target.get("healthcheck") or _image_has_healthcheck(target, repo)):
                errors.append(f"{name}: waits for {dep} to be healthy, but {dep} has no healthcheck")
            if condition == "service_completed_successfully" and target.get("restart") in ("always", "unless-stopped"):
                errors.append(f"{name}: waits for {dep} to complete, but {dep} restarts forever")
    # No cycles.
    graph = {n: set(compose_depends_on(s)) & set(services) for n, s in services.items()}
    state: dict[str, int] = {}

    def visit(n: str, stack: list[str]) -> None:
        if state.get(n) == 1:
            errors.append(f"depends_on cycle: {' -> '.join(stack + [n])}")
            return
        if state.get(n) == 2:
            return
        state[n] = 1
        for m in sorted(graph[n]):
            visit(m, stack + [n])
        state[n] = 2

    for n in sorted(graph):
        visit(n, [])
    # Every published host port once (whatever the host IP: simplest to reason about).
    seen: dict[int, str] = {}
    for name, s in services.items():
        for _, host_port, _ in published_ports(s):
            if host_port in seen:
                errors.append(f"host port {host_port} published by both {seen[host_port]} and {name}")
            seen[host_port] = name
    # Builds, bind mounts and env files point at real files.
    for name, s in services.items():
        build = compose_build(s, repo)
        if build is not None and not build[0].is_file():
            errors.append(f"{name}: build Dockerfile {build[0].relative_to(repo)} not found")
        for v in s.get("volumes", []):
            source = v.get("source") if isinstance(v, dict) else str(v).split(":")[0]
            kind = v.get("type") if isinstance(v, dict) else ("bind" if source.startswith((".", "/")) else "volume")
            if kind == "bind" and not (repo / source).exists():
                errors.append(f"{name}: bind mount source {source} does not exist")
            if kind == "volume" and source and source not in (compose.get("volumes") or {}):
                errors.append(f"{name}: named volume {source} is not declared under volumes:")
    return errors


def _image_has_healthcheck(service: dict, repo: Path) -> bool:
    build = compose_build(service, repo)
    return build is not None and build[0].is_file() and any(
        i.name == "HEALTHCHECK" for i in parse_dockerfile(build[0].read_text()))


# --------------------------------------------------------------------------- Dockerfiles
@dataclass(frozen=True)
class Instruction:
    name: str
    args: str
    line: int

    def exec_form(self) -> list[str] | None:
        text = self.args
        if self.name == "HEALTHCHECK":
            text = text.split("CMD", 1)[1] if "CMD" in text else ""
        text = text.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                return None
            return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None
        return None


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with line continuations joined and comments dropped (no heredocs)."""
    instructions: list[Instruction] = []
    buf, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue
        if not buf:
            start = number
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        name, _, args = buf.partition(" ")
        instructions.append(Instruction(name.upper(), args.strip(), start))
        buf = ""
    if buf:
        raise ManifestError("Dockerfile ends inside a line continuation")
    return instructions


def workspace_members(repo: Path = REPO) -> dict[str, str]:
    """Package name -> member directory, from the root pyproject's workspace globs."""
    root = tomllib.loads((repo / "pyproject.toml").read_text())
    members: dict[str, str] = {}
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        for pyproject in sorted(repo.glob(f"{pattern}/pyproject.toml")):
            name = tomllib.loads(pyproject.read_text())["project"]["name"]
            members[name] = str(pyproject.parent.relative_to(repo))
    return members


def workspace_closure(package: str, repo: Path = REPO) -> set[str]:
    """The workspace members `package` needs, itself included (runtime dependencies only)."""
    members = workspace_members(repo)
    needed, todo = set(), [package]
    while todo:
        pkg = todo.pop()
        if pkg in needed or pkg not in members:
            continue
        needed.add(pkg)
        project = tomllib.loads((repo / members[pkg] / "pyproject.toml").read_text())["project"]
        for dep in project.get("dependencies", []):
            dep_name = re.split(r"[\s\[<>=!~;]", dep, maxsplit=1)[0].strip().lower().replace("_", "-")
            if dep_name in members:
                todo.append(dep_name)
    return needed


def dockerignore_patterns(repo: Path = REPO) -> list[str]:
    path = repo / ".dockerignore"
    if not path.exists():
        return []
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def dockerignored(relpath: str, patterns: list[str]) -> bool:
    """Approximates Docker's matcher: last matching pattern wins, '!' re-includes, '**' spans dirs."""
    ignored = False
    parts = relpath.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        pat = pat.strip("/")
        regex = re.escape(pat).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if any(re.fullmatch(regex, p) for p in prefixes):
            ignored = not negate
    return ignored


# Instructions whose words Docker itself expands with ARG and ENV values at build time. A RUN's
# shell sees the same variables, so RUN is expanded too; CMD, ENTRYPOINT and HEALTHCHECK never are
# (a shell at run time sees only ENV).
_BUILD_EXPANDED = {"ADD", "ARG", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "ONBUILD", "RUN",
                   "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"}
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?:(:?[-+])([^}]*))?\}|(\w+))")
# What python:3.11-slim itself sets, which every stage starts from.
BASE_IMAGE_ENV = {"PATH": "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
_SHELLS = ("/bin/sh", "sh", "/bin/bash", "bash")


def expand(text: str, variables: dict[str, str]) -> str:
    """Dockerfile/POSIX variable expansion: $X, ${X}, ${X:-word}, ${X-word}, ${X:+word}, ${X+word}."""
    def sub(m: re.Match) -> str:
        name = m.group(1) or m.group(4)
        value, op, word = variables.get(name), m.group(2), m.group(3)
        if op == ":-":
            return value or expand(word, variables)
        if op == "-":
            return expand(word, variables) if value is None else value
        if op == ":+":
            return expand(word, variables) if value else ""
        if op == "+":
            return "" if value is None else expand(word, variables)
        return value or ""
    return _VARIABLE.sub(sub, text)


@dataclass
class Stage:
    name: str | None
    image: str
    instructions: list[Instruction]  # as built: variables expanded where Docker expands them
    args: dict[str, str]  # ARGs in scope at the end of the stage (build time only)
    env: dict[str, str]  # ENV at the end of the stage: for the last stage, the container's


@dataclass
class ResolvedDockerfile:
    stages: list[Stage]
    unused_build_args: list[str]  # passed but declared by no ARG: Docker warns and ignores them

    @property
    def runtime(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)


def _declare_args(words: str, scope: dict[str, str], target: dict[str, str],
                  build_args: dict[str, str], inherited: dict[str, str]) -> set[str]:
    """ARG a[=default] b ...: a build arg wins, then the default, then a global ARG's value."""
    names = set()
    for word in shlex.split(words):
        name, has_default, default = word.partition("=")
        names.add(name)
        if name in build_args:
            target[name] = build_args[name]
        elif has_default:
            target[name] = expand(default, scope)
        elif name in inherited:
            target[name] = inherited[name]
    return names


def resolve_dockerfile(text: str, build_args: dict[str, str]) -> ResolvedDockerfile:
    """The stages as `docker build --build-arg ...` would see them, with Docker's ARG scoping.

    ARGs before the first FROM serve only FROM lines, unless a stage declares them again; a
    stage's ARGs exist only in that stage; ENV wins over an ARG of the same name.
    """
    global_args: dict[str, str] = {}
    declared: set[str] = set()
    stages: list[Stage] = []
    for i in parse_dockerfile(text):
        if i.name == "FROM":
            words = expand(i.args, global_args).split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(name, words[0], [Instruction("FROM", " ".join(words), i.line)], {}, dict(BASE_IMAGE_ENV)))
            continue
        if not stages:
            if i.name == "ARG":
                declared |= _declare_args(i.args, global_args, global_args, build_args, {})
            continue
        stage = stages[-1]
        scope = {**stage.args, **stage.env}
        args = expand(i.args, scope) if i.name in _BUILD_EXPANDED else i.args
        if i.name == "ARG":
            declared |= _declare_args(i.args, scope, stage.args, build_args, global_args)
        elif i.name == "ENV":
            # Every pair is expanded with the environment from before this instruction.
            pairs = [w.split("=", 1) for w in shlex.split(i.args) if "=" in w]
            stage.env.update({expand(k, scope): expand(v, scope) for k, v in pairs})
        stage.instructions.append(Instruction(i.name, args, i.line))
    return ResolvedDockerfile(stages, sorted(set(build_args) - declared))


def container_command(stage: Stage) -> list[str] | None:
    """The argv the container runs: CMD, with a shell's `exec "$VAR" ...` read against the ENV."""
    cmds = [i for i in stage.instructions if i.name == "CMD"]
    if not cmds:
        return None
    argv = cmds[-1].exec_form()
    if argv is None:  # shell form: Docker runs it with /bin/sh -c
        argv = ["/bin/sh", "-c", cmds[-1].args]
    if len(argv) == 3 and argv[0] in _SHELLS and argv[1] == "-c":
        argv = shlex.split(expand(argv[2], stage.env))
        if argv[:1] == ["exec"]:
            argv = argv[1:]
    return argv


def writable_mount_points(stage: Stage, uid: str = "10001") -> set[str]:
    """Directories the stage creates (mkdir -p) inside a tree it gives to `uid` (chown -R).

    A new named volume copies the owner of the directory it is mounted on, so only these make
    writable mount points for the service.
    """
    run = " ".join(i.args for i in stage.instructions if i.name == "RUN")
    made = {p.rstrip("/") for m in re.finditer(r"mkdir -p ([^&;|]+)", run) for p in shlex.split(m.group(1))}
    owned = {p.rstrip("/") for m in re.finditer(rf"chown -R {uid}:{uid} ([^&;|]+)", run)
             for p in shlex.split(m.group(1))}
    return {d for d in made if any(d == o or d.startswith(o + "/") for o in owned)}


def dockerfile_errors(path: Path, service: Service, build_args: dict[str, str], repo: Path = REPO) -> list[str]:
    return dockerfile_errors_for_text(path.read_text(), path, service, build_args, repo)


def dockerfile_errors_for_text(text: str, path: Path, service: Service, build_args: dict[str, str],
                               repo: Path = REPO) -> list[str]:
    """Check Dockerfile `text` (as if at `path`; COPY sources resolve against `repo`) built with
    `build_args` against `service`'s contract."""
    errors: list[str] = []
    rel = path.relative_to(repo)
    try:
        resolved = resolve_dockerfile(text, build_args)
    except (ManifestError, ValueError) as e:
        return [f"{rel}: {e}"]
    if resolved.unused_build_args:
        errors.append(f"{rel}: no ARG declares the build args {resolved.unused_build_args}")
    if len(resolved.stages) < 2:
        errors.append(f"{rel}: expected a multi-stage build (builder + runtime), found {len(resolved.stages)} FROM")
    for stage in resolved.stages:
        if not stage.image.startswith("python:3.11-slim"):
            errors.append(f"{rel}:{stage.instructions[0].line}: base image {stage.image} is not python:3.11-slim")
    instructions = [i for s in resolved.stages for i in s.instructions]
    runs = [i.args for i in instructions if i.name == "RUN"]
    if not any("pip install uv==0.13.8" in r for r in runs):
        errors.append(f"{rel}: must install uv from PyPI with 'pip install uv==0.13.8'")
    syncs = [shlex.split(r.split("uv sync", 1)[1]) for r in runs if "uv sync" in r]
    full = [s for s in syncs if "--no-install-workspace" not in s]
    if not full:
        errors.append(f"{rel}: no 'uv sync' that installs the package")
    for s in syncs:
        for flag in ("--frozen", "--no-dev"):
            if flag not in s:
                errors.append(f"{rel}: 'uv sync' needs {flag}")
        if "--package" not in s or s[s.index("--package") + 1] != service.package:
            errors.append(f"{rel}: 'uv sync' must use --package {service.package}, has {' '.join(s)}")

    copies = [i for i in instructions if i.name == "COPY"]
    sources = [src for i in copies if "--from" not in i.args for src in copy_sources(i)]
    members = workspace_members(repo)
    if service.package not in members:
        errors.append(f"{rel}: {service.package} is not a workspace member")
    else:
        project = tomllib.loads((repo / members[service.package] / "pyproject.toml").read_text())["project"]
        if service.script not in project.get("scripts", {}):
            errors.append(f"{rel}: {members[service.package]}/pyproject.toml has no console script {service.script}")
        # Every workspace member the package needs must be copied into the build stage.
        for pkg in sorted(workspace_closure(service.package, repo)):
            d = members[pkg]
            if not any(src.rstrip("/") == d for src in sources):
                errors.append(f"{rel}: does not COPY {d}/ (needed by {service.package})")
            if f"{d}/pyproject.toml" not in sources:
                errors.append(f"{rel}: does not COPY {d}/pyproject.toml for the dependency layer")
        for needed in ("pyproject.toml", "uv.lock"):
            if needed not in sources:
                errors.append(f"{rel}: does not COPY {needed}")
    patterns = dockerignore_patterns(repo)
    for i in copies:
        if "--from" in i.args:
            stage = re.search(r"--from=(\S+)", i.args).group(1)
            if resolved.stage(stage) is None:
                errors.append(f"{rel}:{i.line}: COPY --from={stage} names no stage")
            continue
        for src in copy_sources(i):
            if not (repo / src).exists():
                errors.append(f"{rel}:{i.line}: COPY source {src} does not exist in the build context")
            elif dockerignored(src, patterns):
                errors.append(f"{rel}:{i.line}: COPY source {src} is excluded by .dockerignore")

    runtime = resolved.runtime
    exposes = [p for i in runtime.instructions if i.name == "EXPOSE" for p in i.args.split()]
    if [p.split("/")[0] for p in exposes] != [str(service.port)]:
        errors.append(f"{rel}: runtime stage must EXPOSE {service.port}, exposes {exposes}")
    if runtime.env.get(f"{service.env_prefix}HOST") != "0.0.0.0":
        errors.append(f"{rel}: ENV {service.env_prefix}HOST=0.0.0.0 missing (default binds 127.0.0.1)")
    if runtime.env.get(f"{service.env_prefix}PORT") != str(service.port):
        errors.append(f"{rel}: ENV {service.env_prefix}PORT={service.port} missing")
    users = [i.args for i in runtime.instructions if i.name == "USER"]
    if not users or users[-1].split(":")[0] in ("0", "root", ""):
        errors.append(f"{rel}: runtime stage must switch to a non-root USER")
    elif not users[-1].split(":")[0].isdigit():
        errors.append(f"{rel}: USER should be numeric so Kubernetes can verify runAsNonRoot")
    health = healthcheck_command(runtime)
    if health is None:
        errors.append(f"{rel}: no HEALTHCHECK in exec form")
    elif health[0] not in ("python", "python3", "/app/.venv/bin/python") or "/healthz" not in " ".join(health):
        errors.append(f"{rel}: HEALTHCHECK must GET /healthz with the python stdlib, has {health}")
    elif re.search(r"\b(curl|wget)\b", " ".join(health)):
        errors.append(f"{rel}: HEALTHCHECK uses curl/wget, which python:3.11-slim lacks")
    command = container_command(runtime)
    if command != [service.script, service.command]:
        errors.append(f"{rel}: the container must run [{service.script!r}, {service.command!r}], runs {command}")
    return errors


def healthcheck_command(stage: Stage) -> list[str] | None:
    checks = [i for i in stage.instructions if i.name == "HEALTHCHECK"]
    return checks[-1].exec_form() if checks else None


def run_healthcheck(command: list[str], env: dict[str, str], port_variable: str, status: int = 200) -> tuple[int, list[str]]:
    """Run a python HEALTHCHECK command here against a local server answering `status`.

    The probe gets the container's `env`, with `port_variable` pointing at the server (as it
    would when an operator moves the service's port). Returns its exit code and the paths it GET.
    """
    import http.server
    import threading

    paths: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            paths.append(self.path)
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    try:
        here = {k: v for k, v in os.environ.items() if not k.startswith("BOOMERANG_")}
        probe_env = {**here, **{k: v for k, v in env.items() if k != "PATH"}, port_variable: str(server.server_address[1])}
        proc = subprocess.run([sys.executable, *command[1:]], env=probe_env, capture_output=True, timeout=30)
    finally:
        server.shutdown()
        server.server_close()
    return proc.returncode, paths


def copy_sources(instruction: Instruction) -> list[str]:
    words = [w for w in shlex.split(instruction.args) if not w.startswith("--")]
    return words[:-1]


def metric_names(text: str) -> set[str]:
    return set(re.findall(r"\bboomerang_[a-z0-9_]+", text))

