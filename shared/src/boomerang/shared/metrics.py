"""Prometheus helpers: names follow boomerang_<service>_<thing>_total; never label by customer."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import REGISTRY as DEFAULT_REGISTRY


def counter(service: str, name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
    return Counter(f"boomerang_{service}_{name}", doc, labels)


def histogram(service: str, name: str, doc: str, labels: tuple[str, ...] = (), **kw) -> Histogram:
    return Histogram(f"boomerang_{service}_{name}", doc, labels, **kw)


def render(registry: CollectorRegistry = DEFAULT_REGISTRY) -> tuple[bytes, str]:
    return generate_latest(registry), CONTENT_TYPE_LATEST
