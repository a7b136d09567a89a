"""The telemetry's Prometheus metrics: buckets per type, arrivals and departures per station."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from website_monitor.store import Reader
from website_monitor.telemetry.queries import latest_bucket_update


def telemetry_metrics(reader: Reader) -> Iterator[Metric]:
    """Telemetry buckets stored per metric type, and when one last changed."""
    buckets = GaugeMetricFamily("wm_telemetry_buckets", "Telemetry buckets stored", labels=["type"])
    arrivals = CounterMetricFamily(
        "wm_telemetry_arrivals", "Station arrivals in the stored buckets", labels=["station"]
    )
    departures = CounterMetricFamily(
        "wm_telemetry_departures", "Station departures in the stored buckets", labels=["station"]
    )
    for row in reader.query(
        "SELECT metric_type, count(*) AS n FROM telemetry_buckets"
        " GROUP BY metric_type ORDER BY metric_type"
    ):
        buckets.add_metric([row["metric_type"]], float(row["n"]))
    for row in reader.query(
        "SELECT name, sum(arrivals) AS a, sum(departures) AS d FROM telemetry_buckets"
        " WHERE metric_type = 'station' GROUP BY name ORDER BY name"
    ):
        arrivals.add_metric([row["name"]], float(row["a"] or 0))
        departures.add_metric([row["name"]], float(row["d"] or 0))
    yield buckets
    yield arrivals
    yield departures
    updated = latest_bucket_update(reader)
    if updated:
        yield GaugeMetricFamily(
            "wm_telemetry_last_update_timestamp_seconds",
            "When a telemetry bucket was last written (its updated_at)",
            value=updated / 1_000_000,
        )
