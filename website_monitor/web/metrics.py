"""Prometheus metrics computed from the store at scrape time.

A custom collector queries the repository on each scrape and hands the
families to `prometheus_client`'s text exposition, so nothing is kept in
memory between scrapes and every `wm serve` replica reports the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from website_monitor.store import Repository
from website_monitor.web import api

#: Histogram bucket bounds, in seconds.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Phase label -> column (milliseconds).
PHASE_COLUMNS = (
    ("total", "response_time_ms"),
    ("dns", "dns_ms"),
    ("connect", "connect_ms"),
    ("tls", "tls_ms"),
    ("ttfb", "ttfb_ms"),
)


def probe_metrics(repository: Repository) -> Iterator[Metric]:
    """Probe success and last time per URL, durations per URL and phase."""
    success = GaugeMetricFamily(
        "wm_probe_success", "1 if the latest probe of the URL was healthy, else 0", labels=["url"]
    )
    status = GaugeMetricFamily(
        "wm_probe_http_status", "HTTP status of the latest probe (0: no response)", labels=["url"]
    )
    last = GaugeMetricFamily(
        "wm_probe_last_timestamp_seconds", "Time of the latest probe of the URL", labels=["url"]
    )
    for probe in api.latest_per_url(repository):
        labels = [probe["url"]]
        success.add_metric(labels, 1.0 if probe["ok"] else 0.0)
        status.add_metric(labels, float(probe["http_status_code"] or 0))
        last.add_metric(labels, api._as_utc(probe["timestamp"]).timestamp())
    yield success
    yield status
    yield last

    columns: list[str] = ["url"]
    for phase, column in PHASE_COLUMNS:
        columns.append(f"count({column}) AS {phase}_count")
        columns.append(f"sum({column}) AS {phase}_sum")
        for i, bound in enumerate(DURATION_BUCKETS):
            columns.append(
                f"sum(CASE WHEN {column} <= {bound * 1000.0!r} THEN 1 ELSE 0 END) AS {phase}_le{i}"
            )
    rows = repository.query(
        f"SELECT {', '.join(columns)} FROM url_probes GROUP BY url ORDER BY url"
    )
    duration = HistogramMetricFamily(
        "wm_probe_duration_seconds",
        "Probe durations per URL and phase, from every stored result",
        labels=["url", "phase"],
    )
    for row in rows:
        for phase, _ in PHASE_COLUMNS:
            count = int(row[f"{phase}_count"] or 0)
            if not count:
                continue
            buckets: list[tuple[str, float]] = [
                (_bound(bound), float(row[f"{phase}_le{i}"] or 0))
                for i, bound in enumerate(DURATION_BUCKETS)
            ]
            buckets.append(("+Inf", float(count)))
            total = float(row[f"{phase}_sum"] or 0.0) / 1000.0
            duration.add_metric([row["url"], phase], buckets, total)
    yield duration

    probes = CounterMetricFamily("wm_probes", "Probe results stored", labels=["url"])
    for row in repository.query(
        "SELECT url, count(*) AS n FROM url_probes GROUP BY url ORDER BY url"
    ):
        probes.add_metric([row["url"]], float(row["n"]))
    yield probes


def _bound(value: float) -> str:
    return repr(float(value))


def store_metrics(repository: Repository) -> Iterator[Metric]:
    """Dead letters and schema state."""
    yield GaugeMetricFamily(
        "wm_dead_letters",
        "Messages the flush could not decode, waiting in dead_letters",
        value=float(api.dead_letter_count(repository)),
    )
    schema = api.schema_json(repository)
    yield GaugeMetricFamily(
        "wm_schema_version", "Schema version of the store", value=float(schema["current"])
    )
    yield GaugeMetricFamily(
        "wm_schema_pending_migrations",
        "Migrations this version of wm would apply",
        value=float(schema["pending"]),
    )
    newest = api.newest_timestamp(repository, "url_probes")
    if newest is not None:
        yield GaugeMetricFamily(
            "wm_probe_newest_age_seconds",
            "Seconds since the timestamp of the newest stored probe result (an upper bound"
            " on the flush lag: it also includes the probe interval)",
            value=max(0.0, (datetime.now(timezone.utc) - newest).total_seconds()),
        )


def hit_metrics(repository: Repository) -> Iterator[Metric]:
    """Access-log hits stored per source, and the age of the newest one."""
    hits = CounterMetricFamily("wm_hits", "Access-log hits stored", labels=["source"])
    for row in repository.query(
        "SELECT source, count(*) AS n FROM hits GROUP BY source ORDER BY source"
    ):
        hits.add_metric([row["source"]], float(row["n"]))
    yield hits
    newest = api.newest_timestamp(repository, "hits")
    if newest is not None:
        yield GaugeMetricFamily(
            "wm_hits_newest_age_seconds",
            "Seconds since the log timestamp of the newest stored hit",
            value=max(0.0, (datetime.now(timezone.utc) - newest).total_seconds()),
        )


def alert_metrics(repository: Repository) -> Iterator[Metric]:
    """Open high-traffic alerts per source, and alerts recorded."""
    active = GaugeMetricFamily(
        "wm_alerts_active", "High-traffic alerts open now (ended_at is null)", labels=["source"]
    )
    recorded = CounterMetricFamily("wm_alerts", "High-traffic alerts recorded", labels=["source"])
    for row in repository.query(
        "SELECT source, count(*) AS n, count(*) - count(ended_at) AS open FROM alerts"
        " GROUP BY source ORDER BY source"
    ):
        active.add_metric([row["source"]], float(row["open"]))
        recorded.add_metric([row["source"]], float(row["n"]))
    yield active
    yield recorded


def telemetry_metrics(repository: Repository) -> Iterator[Metric]:
    """Telemetry buckets stored per metric type, and when one last changed."""
    buckets = GaugeMetricFamily("wm_telemetry_buckets", "Telemetry buckets stored", labels=["type"])
    arrivals = CounterMetricFamily(
        "wm_telemetry_arrivals", "Station arrivals in the stored buckets", labels=["station"]
    )
    departures = CounterMetricFamily(
        "wm_telemetry_departures", "Station departures in the stored buckets", labels=["station"]
    )
    for row in repository.query(
        "SELECT metric_type, count(*) AS n FROM telemetry_buckets"
        " GROUP BY metric_type ORDER BY metric_type"
    ):
        buckets.add_metric([row["metric_type"]], float(row["n"]))
    for row in repository.query(
        "SELECT name, sum(arrivals) AS a, sum(departures) AS d FROM telemetry_buckets"
        " WHERE metric_type = 'station' GROUP BY name ORDER BY name"
    ):
        arrivals.add_metric([row["name"]], float(row["a"] or 0))
        departures.add_metric([row["name"]], float(row["d"] or 0))
    yield buckets
    yield arrivals
    yield departures
    updated = api.latest_bucket_update(repository)
    if updated:
        yield GaugeMetricFamily(
            "wm_telemetry_last_update_timestamp_seconds",
            "When a telemetry bucket was last written (its updated_at)",
            value=updated / 1_000_000,
        )


MetricsSource = Callable[[Repository], Iterable[Metric]]


class StoreCollector(Collector):
    """Runs every source against the repository on each collect()."""

    def __init__(self, repository: Repository, sources: Iterable[MetricsSource]) -> None:
        self.repository = repository
        self.sources = list(sources)

    def collect(self) -> Iterable[Metric]:
        families: list[Metric] = []
        for source in self.sources:
            families.extend(source(self.repository))
        return families


def registry_for(repository: Repository, sources: Iterable[MetricsSource]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(repository, sources))
    return registry
