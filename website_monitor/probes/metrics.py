"""The probes' Prometheus metrics, computed from the store at each scrape."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timezone

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from website_monitor.probes import counters, queries, stats
from website_monitor.probes.rollups import rolled_up_to
from website_monitor.store import Reader
from website_monitor.times import as_utc


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

    duration = HistogramMetricFamily(
        "wm_probe_duration_seconds",
        "Probe durations per URL and phase, from every stored result",
        labels=["url", "phase"],
    )
    probes = CounterMetricFamily("wm_probes", "Probe results stored", labels=["url"])
    counted: dict[tuple[str, str], list[float]] = {}
    sums: dict[tuple[str, str], float] = {}
    for row in counters.counter_rows(reader, rolled_up_to(reader)):
        if row["phase"] == counters.CHECKS:
            probes.add_metric([row["url"]], float(row["count"]))
            continue
        key = (row["url"], row["phase"])
        counts = counted.setdefault(key, [0.0] * (len(counters.BOUNDS_MS) + 1))
        counts[int(row["bucket"])] += float(row["count"])
        sums[key] = sums.get(key, 0.0) + float(row["sum_ms"] or 0.0)
    for (url, phase), counts in counted.items():
        cumulative = list(itertools.accumulate(counts))
        buckets = [
            (repr(bound / 1000.0), cumulative[i]) for i, bound in enumerate(counters.BOUNDS_MS)
        ]
        buckets.append(("+Inf", cumulative[-1]))
        duration.add_metric([url, phase], buckets, sums[(url, phase)] / 1000.0)
    yield duration
    yield probes
    newest = queries.newest_timestamp(reader)
    if newest is not None:
        yield GaugeMetricFamily(
            "wm_probe_newest_age_seconds",
            "Seconds since the timestamp of the newest stored probe result (an upper bound"
            " on the flush lag: it also includes the probe interval)",
            value=max(0.0, (datetime.now(timezone.utc) - newest).total_seconds()),
        )
