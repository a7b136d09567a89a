"""The telemetry's Prometheus metrics: buckets per type, arrivals and departures per station,
and the UDP listeners' own counters (`telemetry.health`)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from website_monitor.store import Reader
from website_monitor.telemetry import health
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
    mark = reader.dialect.placeholder
    for row in reader.query(
        "SELECT metric_type, count(*) AS n FROM telemetry_buckets"
        f" WHERE NOT {health.own_rows_sql(mark)} GROUP BY metric_type ORDER BY metric_type",
        [health.PREFIX],
    ):
        buckets.add_metric([row["metric_type"]], float(row["n"]))
    total = reader.dialect.sum_of
    for row in reader.query(
        f"SELECT name, {total('arrivals')} AS a, {total('departures')} AS d"
        " FROM telemetry_buckets WHERE metric_type = 'station' GROUP BY name ORDER BY name"
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


_LISTEN_COUNTERS = (
    (health.DATAGRAMS, "wm_listen_datagrams", "Datagrams the UDP listeners received"),
    (
        health.KERNEL_DROPS,
        "wm_listen_kernel_drops",
        "Datagrams the kernel dropped for the listeners' sockets (receive buffer full),"
        " as SO_RXQ_OVFL reports them (Linux)",
    ),
    (
        health.QUEUE_DROPS,
        "wm_listen_queue_drops",
        "Datagrams the UDP listeners dropped because their queue was full",
    ),
)


def listen_metrics(reader: Reader) -> Iterator[Metric]:
    """The listeners' own counters, summed over every stored bucket (every listener)."""
    mark = reader.dialect.placeholder
    totals = {
        row["name"]: float(row["n"] or 0)
        for row in reader.query(
            f"SELECT name, sum(total) AS n FROM telemetry_buckets WHERE {health.own_rows_sql(mark)}"
            " GROUP BY name",
            [health.PREFIX],
        )
    }
    for name, metric, documentation in _LISTEN_COUNTERS:
        yield CounterMetricFamily(metric, documentation, value=totals.get(name, 0.0))
    bad = CounterMetricFamily(
        "wm_listen_bad_datagrams",
        "Datagrams the UDP listeners counted as bad, per reason",
        labels=["reason"],
    )
    reasons = dict.fromkeys(health.BAD_REASONS, 0.0)
    for name, total in totals.items():
        if name.startswith(health.BAD):
            reasons[name.removeprefix(health.BAD)] = total
    for reason, total in sorted(reasons.items()):
        bad.add_metric([reason], total)
    yield bad
