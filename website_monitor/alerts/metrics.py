"""The alerting's Prometheus metrics: open incidents, failed notifications, SLOs.

SLOs are those of the config file `wm serve` was started with
(`rules.configured()`), computed at each scrape from the rollups and the raw
rows not rolled up yet.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from website_monitor import log
from website_monitor.alerts import rules, slo
from website_monitor.errors import ConfigError
from website_monitor.store import Reader
from website_monitor.store.base import reading

logger = log.get("serve")


def incident_metrics(reader: Reader) -> Iterator[Metric]:
    """One gauge per open incident; failed delivery attempts per notifier."""
    open_now = GaugeMetricFamily(
        "wm_incident_open",
        "Incidents open now (url: the URL, or wm tail's source for traffic)",
        labels=["alert", "url", "kind"],
    )
    for row in reader.query(
        "SELECT alert, coalesce(url, source, '') AS url, kind, count(*) AS n FROM incidents"
        " WHERE state = 'open' GROUP BY alert, coalesce(url, source, ''), kind"
        " ORDER BY alert, url, kind"
    ):
        open_now.add_metric([row["alert"], row["url"], row["kind"]], float(row["n"]))
    yield open_now
    failed = CounterMetricFamily(
        "wm_notifications_failed",
        "Failed delivery attempts (each logged; retried with backoff, then given up)",
        labels=["notifier"],
    )
    for row in reader.query(
        "SELECT notifier, sum(attempts - CASE WHEN state = 'sent' THEN 1 ELSE 0 END) AS n"
        " FROM notifications GROUP BY notifier ORDER BY notifier"
    ):
        failed.add_metric([row["notifier"]], float(row["n"] or 0))
    yield failed


def slo_metrics(reader: Reader) -> Iterator[Metric]:
    """SLI, error budget remaining and burn rates of each configured SLO."""
    try:
        configured = rules.configured().slos
    except ConfigError as exc:
        logger.warning("no SLO metrics: %s", exc.message)
        return
    sli = GaugeMetricFamily(
        "wm_slo_sli", "Share of good checks over the SLO's window", labels=["slo"]
    )
    remaining = GaugeMetricFamily(
        "wm_slo_error_budget_remaining_ratio",
        "Error budget left over the SLO's window (1 untouched, 0 spent, below 0 overspent)",
        labels=["slo"],
    )
    burn = GaugeMetricFamily(
        "wm_slo_burn_rate",
        "Error budget burn rate over a trailing window",
        labels=["slo", "window"],
    )
    now = datetime.now(timezone.utc)
    with reading(reader) as snapshot:
        for objective in configured:
            found = slo.measure(snapshot, objective, now)
            if found.report.sli is not None:
                sli.add_metric([objective.name], found.report.sli)
            if found.report.error_budget_remaining is not None:
                remaining.add_metric([objective.name], found.report.error_budget_remaining)
            for window, value in found.rates.items():
                if value is not None:
                    burn.add_metric([objective.name, window], value)
    yield sli
    yield remaining
    yield burn
