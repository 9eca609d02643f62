"""deploy/k8s: kustomize renders, strict Kubernetes schemas, and what schemas cannot see."""

from __future__ import annotations

import copy
from urllib.parse import urlsplit

import pytest
import yaml

import deploy_support as ds

# ---------------------------------------------------------------------------- renders


@pytest.mark.parametrize("name", ds.KUSTOMIZATIONS)
def test_kustomization_renders_without_warnings(rendered, name):
    resources, warnings = rendered[name]
    assert resources, f"{name} rendered nothing"
    # Deprecated fields (commonLabels, patchesStrategicMerge, ...) show up as warnings.
    assert not warnings.strip(), f"kustomize warned while building {name}:\n{warnings}"


@pytest.mark.parametrize("name", ds.KUSTOMIZATIONS)
def test_rendered_resources_match_the_kubernetes_schemas(rendered, name):
    resources, _ = rendered[name]
    errors = ds.k8s_schema_errors(resources, ds.K8S_VERSIONS)
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("name", ds.KUSTOMIZATIONS)
def test_rendered_resources_are_consistent(rendered, name):
    resources, _ = rendered[name]
    errors = ds.k8s_semantic_errors(
        resources,
        ds.NAMESPACES[name],
        self_contained=name == "overlays/dev",
        prod=name.startswith("overlays/prod"),
    )
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("name", ds.KUSTOMIZATIONS)
def test_every_service_is_deployed_once(rendered, name):
    resources, _ = rendered[name]
    workloads = [r for r in resources if r["kind"] in ds.WORKLOAD_KINDS]
    names = sorted(w["metadata"]["name"] for w in workloads)
    expected = sorted(ds.WORKLOADS + (("sandbox",) if name == "overlays/dev" else ()))
    assert names == expected
    services = {r["metadata"]["name"] for r in resources if r["kind"] == "Service"}
    assert set(expected) <= services


def test_segmenter_keeps_its_rocksdb_state_on_a_volume(rendered):
    resources, _ = rendered["base"]
    (sts,) = [r for r in resources if r["kind"] == "StatefulSet"]
    assert sts["metadata"]["name"] == "segmenter"
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    container = sts["spec"]["template"]["spec"]["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    env = ds.effective_env(resources, container)
    assert mounts[claim["metadata"]["name"]] == env["BOOMERANG_SEGMENTER_DATA_DIR"]


@pytest.mark.parametrize("name", ds.KUSTOMIZATIONS)
def test_the_query_api_reads_the_database_the_segmenter_writes(rendered, name):
    resources, _ = rendered[name]
    (worker,) = [r for r in resources if r["kind"] == "StatefulSet" and r["metadata"]["name"] == "segmenter"]
    (api,) = [r for r in resources if r["kind"] == "Deployment" and r["metadata"]["name"] == "segmenter-api"]
    worker_c = worker["spec"]["template"]["spec"]["containers"][0]
    api_c = api["spec"]["template"]["spec"]["containers"][0]
    worker_env, api_env = ds.effective_env(resources, worker_c), ds.effective_env(resources, api_c)
    for var in ("BOOMERANG_SEGMENTER_DATABASE_URL", "PGPASSWORD"):
        assert api_env.get(var) == worker_env.get(var), var  # the same URL, or the same Secret key
    url = api_env["BOOMERANG_SEGMENTER_DATABASE_URL"]
    if isinstance(url, str):  # base and dev; prod takes it whole from the Secret
        assert url.startswith("postgresql+psycopg://"), "SQLite would need a volume both pods share"
    assert api_c["image"] == worker_c["image"] and api_c["command"] == ["boomerang-segmenter", "api"]
    assert str(api_env["BOOMERANG_SEGMENTER_API_PORT"]) == "8005"
    # Stateless: no claim, nothing mounted but /tmp.
    assert "volumeClaimTemplates" not in api["spec"]
    assert [m["mountPath"] for m in api_c["volumeMounts"]] == ["/tmp"]
    (service,) = [r for r in resources if r["kind"] == "Service" and r["metadata"]["name"] == "segmenter-api"]
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(8005, "http")]


def test_prod_takes_database_urls_from_secrets_and_has_pdbs(rendered):
    resources, _ = rendered["overlays/prod"]
    pdbs = {r["metadata"]["name"] for r in resources if r["kind"] == "PodDisruptionBudget"}
    assert pdbs == set(ds.WORKLOADS)
    # No credentials of any kind are rendered into prod: the Secrets are made out of band.
    assert not [r for r in resources if r["kind"] == "Secret"]
    for r in resources:
        if r["kind"] == "ConfigMap":
            for key, value in r.get("data", {}).items():
                assert not any(s in key for s in ("API_KEY", "AUTH_TOKEN", "PASSWORD", "SECRET")), key
                if "://" in value:
                    assert urlsplit(value).password is None, f"{key} holds a URL with a password"


def test_operator_extras_target_what_prod_renders(rendered):
    resources, _ = rendered["overlays/prod-operators"]
    kinds = {r["kind"] for r in resources}
    assert {"ScaledObject", "ServiceMonitor", "PrometheusRule", "KafkaTopic"} <= kinds
    bootstrap = next(
        r["data"]["BOOMERANG_KAFKA_BOOTSTRAP"]
        for r in resources
        if r["kind"] == "ConfigMap" and r["metadata"]["name"].startswith("boomerang-common")
    )
    for so in (r for r in resources if r["kind"] == "ScaledObject"):
        for trigger in so["spec"]["triggers"]:
            assert trigger["metadata"]["bootstrapServers"] == bootstrap
    # The ServiceMonitor scrapes the http port of exactly the four services' ClusterIP Services
    # and the segmenter's query API's.
    (sm,) = [r for r in resources if r["kind"] == "ServiceMonitor"]
    selected = [
        r["metadata"]["name"]
        for r in resources
        if r["kind"] == "Service" and _label_selector_matches(sm["spec"]["selector"], r["metadata"].get("labels", {}))
    ]
    assert sorted(selected) == sorted(ds.WORKLOADS)
    assert {e["port"] for e in sm["spec"]["endpoints"]} == {"http"}


def test_kafka_topics_match_the_topic_catalogue(rendered):
    topics_module = pytest.importorskip("boomerang.shared.kafka.topics")
    resources, _ = rendered["overlays/prod-operators"]
    rendered_topics = {r["spec"].get("topicName", r["metadata"]["name"]): r["spec"] for r in resources if r["kind"] == "KafkaTopic"}
    catalogue = {t.name: t for t in topics_module.ALL_TOPICS}
    assert set(rendered_topics) == set(catalogue)
    for name, spec in rendered_topics.items():
        wanted = catalogue[name]
        assert spec["partitions"] == wanted.partitions, name
        for key, value in wanted.config.items():
            assert str(spec["config"].get(key)) == value, f"{name}: {key}"
        assert spec["replicas"] >= 3 and int(spec["config"]["min.insync.replicas"]) < spec["replicas"]


def test_alert_and_dashboard_metric_names_follow_the_convention(rendered):
    resources, _ = rendered["overlays/prod-operators"]
    (rule,) = [r for r in resources if r["kind"] == "PrometheusRule"]
    for group in rule["spec"]["groups"]:
        for r in group["rules"]:
            assert r["labels"]["severity"] in ("critical", "warning", "info")
            assert r["annotations"].get("summary")
            assert r["expr"].count("(") == r["expr"].count(")"), r["alert"]
            for metric in ds.metric_names(r["expr"]):
                if metric.endswith("_"):  # a regex such as boomerang_(a|b)_x_total
                    continue
                assert ds.METRIC_NAME.match(metric), metric


def _label_selector_matches(selector: dict, labels: dict) -> bool:
    if not all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


# ---------------------------------------------------------------------------- per file
# The fallback that needs no kustomize: every plain resource file the kustomizations list,
# validated on its own. Runs always, so a broken file fails even where kustomize is missing.


def _listed_files():
    files = set()
    for name in ds.KUSTOMIZATIONS:
        files.update(ds.kustomization_files(ds.K8S_DIR / name))
    return sorted(files)


@pytest.mark.parametrize("path", _listed_files(), ids=lambda p: str(p.relative_to(ds.K8S_DIR)))
def test_each_listed_resource_file_is_valid(path):
    documents = ds.load_yaml_documents(path)
    assert documents, f"{path} is empty"
    errors = ds.k8s_schema_errors(documents, ds.K8S_VERSIONS[:1])
    assert not errors, "\n".join(errors)


def test_every_manifest_file_is_used():
    """A YAML file under deploy/k8s that no kustomization lists, patches or generates from is dead."""
    referenced = set(_listed_files())
    for kfile in ds.K8S_DIR.rglob("kustomization.yaml"):
        k = yaml.safe_load(kfile.read_text())
        for patch in k.get("patches", []):
            if "path" in patch:
                referenced.add((kfile.parent / patch["path"]).resolve())
        referenced.add(kfile.resolve())
    unused = [p for p in ds.K8S_DIR.rglob("*.yaml") if p.resolve() not in referenced]
    assert not unused, f"not referenced by any kustomization: {unused}"


# ---------------------------------------------------------------------------- the validators fail


VALID_DEPLOYMENT = yaml.safe_load(
    """
apiVersion: apps/v1
kind: Deployment
metadata: {name: demo}
spec:
  selector: {matchLabels: {app: demo}}
  template:
    metadata: {labels: {app: demo}}
    spec:
      containers:
        - name: demo
          image: demo:1.0
          ports: [{name: http, containerPort: 8001}]
"""
)


def _broken(mutate):
    d = copy.deepcopy(VALID_DEPLOYMENT)
    mutate(d)
    return d


BROKEN = {
    "unknown field (typo)": _broken(lambda d: d["spec"]["template"]["spec"].update(contianers=[])),
    "wrong type": _broken(lambda d: d["spec"].update(replicas="three")),
    "missing required field": _broken(lambda d: d["spec"].pop("selector")),
    "bad port number type": _broken(lambda d: d["spec"]["template"]["spec"]["containers"][0]["ports"][0].update(containerPort="http")),
    "unknown kind": {"apiVersion": "apps/v1", "kind": "Deploymnet", "metadata": {"name": "x"}, "spec": {}},
    "unknown apiVersion": _broken(lambda d: d.update(apiVersion="apps/v1beta9")),
    "not an object": {"kind": "Deployment"},
}


def test_the_validator_accepts_a_valid_deployment():
    for version in ds.K8S_VERSIONS:
        ds.validate_k8s_resource(VALID_DEPLOYMENT, version)


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_the_validator_rejects_a_broken_manifest(case):
    with pytest.raises(ds.ManifestError):
        ds.validate_k8s_resource(BROKEN[case], ds.K8S_VERSIONS[0])


def test_the_validator_rejects_broken_custom_resources():
    with open(ds.K8S_DIR / "components" / "operators" / "scaledobjects.yaml") as f:
        so = next(d for d in yaml.safe_load_all(f) if d)
    ds.validate_k8s_resource(so, ds.K8S_VERSIONS[0])
    for mutate in (
        lambda r: r["spec"].pop("scaleTargetRef"),
        lambda r: r["spec"].update(minReplicaCont=1),
        lambda r: r["spec"]["triggers"][0]["metadata"].update(lagThreshold=500),
        lambda r: r["metadata"].update(name="Not_A_DNS_Name"),
    ):
        broken = copy.deepcopy(so)
        mutate(broken)
        with pytest.raises(ds.ManifestError):
            ds.validate_k8s_resource(broken, ds.K8S_VERSIONS[0])
    topic = {"apiVersion": "kafka.strimzi.io/v1beta2", "kind": "KafkaTopic",
             "metadata": {"name": "t"}, "spec": {"partitions": 6, "replicas": 3}}
    with pytest.raises(ds.ManifestError, match="strimzi.io/cluster"):
        ds.validate_k8s_resource(topic, ds.K8S_VERSIONS[0])


def test_the_consistency_checks_catch_a_broken_wiring(rendered):
    resources, _ = rendered["overlays/dev"]
    assert not ds.k8s_semantic_errors(resources, "boomerang-dev", self_contained=True)

    def errors_after(mutate):
        broken = copy.deepcopy(resources)
        mutate(broken)
        return ds.k8s_semantic_errors(broken, "boomerang-dev", self_contained=True)

    def find(rs, kind, name):
        return next(r for r in rs if r["kind"] == kind and r["metadata"]["name"] == name)

    def container(rs, kind, name):
        return find(rs, kind, name)["spec"]["template"]["spec"]["containers"][0]

    assert errors_after(lambda rs: find(rs, "Service", "ingest")["spec"].update(selector={"app.kubernetes.io/name": "nope"}))
    assert errors_after(lambda rs: container(rs, "Deployment", "ingest")["readinessProbe"]["httpGet"].update(path="/healthz"))
    assert errors_after(lambda rs: container(rs, "Deployment", "messenger")["env"].clear())
    assert errors_after(lambda rs: container(rs, "Deployment", "feedback")["ports"][0].update(containerPort=9999))
    assert errors_after(lambda rs: container(rs, "StatefulSet", "segmenter")["securityContext"].update(allowPrivilegeEscalation=True))
    assert errors_after(lambda rs: container(rs, "Deployment", "ingest").update(image="boomerang/ingest:latest"))
    assert errors_after(lambda rs: rs.remove(find(rs, "Secret", next(
        r["metadata"]["name"] for r in rs if r["kind"] == "Secret" and r["metadata"]["name"].startswith("messenger-providers")))))
    assert errors_after(lambda rs: find(rs, "Service", "ingest")["metadata"].update(namespace="default"))
    assert errors_after(lambda rs: container(rs, "Deployment", "segmenter-api")["readinessProbe"]["httpGet"].update(path="/"))
    assert errors_after(lambda rs: container(rs, "Deployment", "segmenter-api").update(command=["boomerang-segmenter", "worker"]))
    assert errors_after(lambda rs: container(rs, "Deployment", "segmenter-api")["ports"][0].update(containerPort=8002))


def test_the_render_pipeline_fails_on_a_broken_kustomization(kustomize, tmp_path):
    """End to end: render with kustomize, then validate; a typo in a resource must fail."""
    broken = copy.deepcopy(VALID_DEPLOYMENT)
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Sometimes"
    broken["spec"]["replica"] = 2  # typo of replicas
    (tmp_path / "deployment.yaml").write_text(yaml.safe_dump(broken))
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: x\nresources: [deployment.yaml]\n"
    )
    resources, _ = ds.kustomize_build(kustomize, tmp_path)
    errors = ds.k8s_schema_errors(resources, ds.K8S_VERSIONS[:1])
    assert errors and "replica" in errors[0]

    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [missing.yaml]\n"
    )
    with pytest.raises(ds.ManifestError):
        ds.kustomize_build(kustomize, tmp_path)
