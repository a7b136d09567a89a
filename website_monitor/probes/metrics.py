"""The probes' Prometheus metrics, computed from the store at each scrape."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from website_monitor.probes import queries, stats
from website_monitor.store import Reader
from website_monitor.times import as_utc

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


def probe_metrics(reader: Reader) -> Iterator[Metric]:
    """Probe success, last time and certificate expiry per URL, durations per URL and phase."""
    success = GaugeMetricFamily(
        "wm_probe_success", "1 if the latest probe of the URL was healthy, else 0", labels=["url"]
    )
    status = GaugeMetricFamily(
        "wm_probe_http_status", "HTTP status of the latest probe (0: no response)", labels=["url"]
    )
    last = GaugeMetricFamily(
        "wm_probe_last_timestamp_seconds", "Time of the latest probe of the URL", labels=["url"]
    )
    latest = queries.latest_per_url(reader)
    for probe in latest:
        labels = [probe.url]
        success.add_metric(labels, 1.0 if probe.ok else 0.0)
        status.add_metric(labels, float(probe.http_status_code or 0))
        last.add_metric(labels, as_utc(probe.timestamp).timestamp())
    yield success
    yield status
    yield last
    expiry = GaugeMetricFamily(
        "wm_probe_cert_expiry_timestamp_seconds",
        "When the certificates of the newest HTTPS result of the URL that had any expire"
        " (the earliest in the chain)",
        labels=["url"],
    )
    for url, expires_at in stats.cert_expiries(reader, [p.url for p in latest], None, None).items():
        expiry.add_metric([url], expires_at.timestamp())
    yield expiry

    columns: list[str] = ["url"]
    for phase, column in PHASE_COLUMNS:
        columns.append(f"count({column}) AS {phase}_count")
        columns.append(f"sum({column}) AS {phase}_sum")
        for i, bound in enumerate(DURATION_BUCKETS):
            columns.append(
                f"sum(CASE WHEN {column} <= {bound * 1000.0!r} THEN 1 ELSE 0 END) AS {phase}_le{i}"
            )
    rows = reader.query(f"SELECT {', '.join(columns)} FROM url_probes GROUP BY url ORDER BY url")
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
                (repr(float(bound)), float(row[f"{phase}_le{i}"] or 0))
                for i, bound in enumerate(DURATION_BUCKETS)
            ]
            buckets.append(("+Inf", float(count)))
            total = float(row[f"{phase}_sum"] or 0.0) / 1000.0
            duration.add_metric([row["url"], phase], buckets, total)
    yield duration

    probes = CounterMetricFamily("wm_probes", "Probe results stored", labels=["url"])
    for row in reader.query("SELECT url, count(*) AS n FROM url_probes GROUP BY url ORDER BY url"):
        probes.add_metric([row["url"]], float(row["n"]))
    yield probes
    newest = queries.newest_timestamp(reader)
    if newest is not None:
        yield GaugeMetricFamily(
            "wm_probe_newest_age_seconds",
            "Seconds since the timestamp of the newest stored probe result (an upper bound"
            " on the flush lag: it also includes the probe interval)",
            value=max(0.0, (datetime.now(timezone.utc) - newest).total_seconds()),
        )
