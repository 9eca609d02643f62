"""Prometheus, Grafana and the alerts: they scrape what compose runs and chart metrics that exist."""

from __future__ import annotations

import importlib
import json

import pytest
import yaml

import deploy_support as ds

DEPLOY = ds.REPO / "deploy"
COMPOSE = ds.load_compose()
PROMETHEUS = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
DASHBOARDS = sorted((DEPLOY / "grafana/dashboards").glob("*.json"))
RULES = ds.load_yaml_documents(DEPLOY / "k8s/components/operators/prometheusrule.yaml")


@pytest.fixture(scope="module")
def exported_metrics() -> set[str]:
    """Every series name the four services export, read from their prometheus_client registry."""
    from prometheus_client import REGISTRY

    for service in ds.CORE:
        importlib.import_module(f"boomerang.{service}.metrics")
    names: set[str] = set()
    for family in REGISTRY.collect():
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names.update(f"{family.name}{s}" for s in ("_bucket", "_sum", "_count"))
        else:
            names.add(family.name)
    return {n for n in names if n.startswith("boomerang_")}


def _dashboard_exprs(dashboard: dict) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_prometheus_scrapes_each_service_where_compose_runs_it():
    jobs = {j["job_name"]: j for j in PROMETHEUS["scrape_configs"]}
    for name in ds.CORE:
        job = jobs[f"boomerang-{name}"]  # same job names as the k8s ServiceMonitor's jobLabel
        assert job.get("metrics_path", "/metrics") == "/metrics"
        (targets,) = [t for sc in job["static_configs"] for t in [sc["targets"]]]
        assert targets == [f"{name}:{ds.SERVICES[name].port}"]
        assert name in COMPOSE["services"]
    mounts = [v for v in COMPOSE["services"]["prometheus"]["volumes"] if "prometheus.yml" in v]
    assert mounts == ["./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro"]


def test_grafana_provisioning_matches_the_compose_mounts():
    grafana = COMPOSE["services"]["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"] if v.startswith("./")}
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    (datasource,) = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert "127.0.0.1:9090:9090" in COMPOSE["services"]["prometheus"]["ports"]
    (provider,) = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/boomerang.yml").read_text())["providers"]
    dashboards_dir = provider["options"]["path"]
    assert mounts[dashboards_dir] == "./deploy/grafana/dashboards"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(dashboards_dir + "/")
    assert (DEPLOY / "grafana/dashboards" / home.rsplit("/", 1)[1]).is_file()
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for ref in [panel.get("datasource")] + [t.get("datasource") for t in panel.get("targets", [])]:
                if ref:
                    assert ref["uid"] == datasource["uid"], f"{path.name}: panel {panel['title']!r}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_is_well_formed(path):
    dashboard = json.loads(path.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["panels"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        for target in panel.get("targets", []):
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]


def test_overview_dashboard_has_the_panels_operators_need():
    dashboard = json.loads((DEPLOY / "grafana/dashboards/boomerang-overview.json").read_text())
    exprs = " ".join(_dashboard_exprs(dashboard))
    assert "boomerang_ingest_events_published_total" in exprs  # events ingested rate
    assert "by (flow, channel)" in exprs and 'status="sent"' in exprs  # messages sent by flow/channel
    assert "kafka_consumergroup_lag" in exprs  # consumer lag (placeholder)


def test_dashboards_and_alerts_use_metrics_the_services_export(exported_metrics):
    referenced: dict[str, str] = {}
    for path in DASHBOARDS:
        for expr in _dashboard_exprs(json.loads(path.read_text())):
            referenced.update({m: path.name for m in ds.metric_names(expr)})
    (rule,) = RULES
    for group in rule["spec"]["groups"]:
        for r in group["rules"]:
            referenced.update({m: r["alert"] for m in ds.metric_names(r["expr"])})
    assert referenced
    for metric, where in referenced.items():
        assert ds.METRIC_NAME.match(metric), f"{where}: {metric} breaks boomerang_<service>_<thing>_total"
        assert metric in exported_metrics, f"{where}: no service exports {metric}"

