"""Prometheus metrics computed from the store at scrape time.

A custom collector runs every section's metrics source against one snapshot of
the store on each scrape and hands the families to `prometheus_client`'s text
exposition, so nothing is kept in memory between scrapes and every `wm serve`
replica reports the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.registry import Collector, CollectorRegistry

from website_monitor.store import Repository
from website_monitor.web.section import MetricsSource


class StoreCollector(Collector):
    """Runs every source against the repository on each collect()."""

    def __init__(self, repository: Repository, sources: Iterable[MetricsSource]) -> None:
        self.repository = repository
        self.sources = list(sources)

    def collect(self) -> Iterable[Any]:
        """Every source's families, read from one snapshot of the store."""
        families: list[Any] = []
        with self.repository.snapshot() as reader:
            for source in self.sources:
                families.extend(source(reader))
        return families


def registry_for(repository: Repository, sources: Iterable[MetricsSource]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(repository, sources))
    return registry
