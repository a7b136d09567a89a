"""The store's part of `wm serve`: schema, dead letters and row counts, metrics, live feed."""

from __future__ import annotations

from pathlib import Path

from website_monitor.deadletters import metrics, store
from website_monitor.deadletters.models import DeadLetters, SchemaInfo, StoreStatus
from website_monitor.probes.queries import count_probes
from website_monitor.store import Repository
from website_monitor.web.section import Endpoint, LiveStream, Section


def schema_info(repository: Repository) -> SchemaInfo:
    status = repository.schema_status()
    return SchemaInfo(
        backend=status.backend, current=status.current, latest=status.latest, pending=status.pending
    )


def get_store(repository: Repository, params: None) -> StoreStatus:
    return StoreStatus(
        schema=schema_info(repository),
        dead_letters=store.count(repository),
        probes=count_probes(repository),
    )


def get_dead_letters(repository: Repository, params: None) -> DeadLetters:
    return store.listing(repository, 100)


SECTION = Section(
    name="store",
    title="Store",
    endpoints=(
        Endpoint(
            "/api/store",
            "getStore",
            "Schema version, dead letters and probe rows in the store",
            get_store,
            StoreStatus,
        ),
        Endpoint(
            "/api/deadletters",
            "getDeadLetters",
            "Dead letters (the first 100; raw bytes: `wm dlq list`)",
            get_dead_letters,
            DeadLetters,
        ),
    ),
    metrics=(metrics.store_metrics,),
    streams=(LiveStream("dead_letter", store.latest_id, store.after),),
    panel=Path(__file__).with_name("panel.js"),
)
