"""The access logs' Prometheus metrics: hits per source, high-traffic alerts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from website_monitor.logs import queries, rollups
from website_monitor.store import Reader


def hit_metrics(reader: Reader) -> Iterator[Metric]:
    """Access-log hits stored per source, and the age of the newest one."""
    hits = CounterMetricFamily("wm_hits", "Access-log hits stored", labels=["source"])
    for row in rollups.totals(reader):
        hits.add_metric([row["source"]], float(row["hits"]))
    yield hits
    newest = queries.newest_timestamp(reader)
    if newest is not None:
        yield GaugeMetricFamily(
            "wm_hits_newest_age_seconds",
            "Seconds since the log timestamp of the newest stored hit",
            value=max(0.0, (datetime.now(timezone.utc) - newest).total_seconds()),
        )


def alert_metrics(reader: Reader) -> Iterator[Metric]:
    """Open high-traffic alerts per source, and alerts recorded."""
    active = GaugeMetricFamily(
        "wm_alerts_active", "High-traffic alerts open now (ended_at is null)", labels=["source"]
    )
    recorded = CounterMetricFamily("wm_alerts", "High-traffic alerts recorded", labels=["source"])
    for source, recorded_count, open_count in queries.alert_counts(reader):
        active.add_metric([source], float(open_count))
        recorded.add_metric([source], float(recorded_count))
    yield active
    yield recorded
