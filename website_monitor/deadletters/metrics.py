"""The store's Prometheus metrics: dead letters and schema state."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from website_monitor.deadletters import store
from website_monitor.store import Reader, migrate


def store_metrics(reader: Reader) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "wm_dead_letters",
        "Messages the flush could not decode, waiting in dead_letters",
        value=float(store.count(reader)),
    )
    schema = migrate.read_status(reader)
    yield GaugeMetricFamily(
        "wm_schema_version", "Migrations applied to the store", value=float(schema.current)
    )
    yield GaugeMetricFamily(
        "wm_schema_pending_migrations",
        "Migrations this version of wm would apply",
        value=float(schema.pending),
    )
