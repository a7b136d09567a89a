"""The probes' part of `wm serve`: stats, series and latest results, metrics, live feed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from msgspec import Meta, Struct

from website_monitor.probes import metrics, queries, stats
from website_monitor.probes.models import LatestProbes, ProbeSeries, Stats
from website_monitor.store import Repository
from website_monitor.web.section import Endpoint, LiveStream, Section, bucket_param, time_param

Time = Annotated[str, Meta(description="ISO 8601 (naive means UTC) or an age such as 15m, 1h, 7d")]
Urls = Annotated[list[str], Meta(description="Only these URLs (repeat the parameter)")]


class StatsParams(Struct, kw_only=True):
    url: Urls = []
    since: Annotated[Time, Meta(description="From this time")] | None = None
    until: Annotated[Time, Meta(description="Before this time")] | None = None
    by: (
        Annotated[
            Literal["status", "location", "hour", "day"], Meta(description="Also group by this")
        ]
        | None
    ) = None


class SeriesParams(Struct, kw_only=True):
    url: Urls = []
    since: Annotated[Time, Meta(description="From this time")] | None = None
    until: Annotated[Time, Meta(description="Before this time")] | None = None
    bucket: Annotated[str, Meta(description="Bucket width (30s, 1m, 5m, …); default: auto")] | (
        None
    ) = None


def get_stats(repository: Repository, params: StatsParams) -> Stats:
    query = stats.StatsQuery(
        urls=tuple(params.url),
        since=time_param("since", params.since),
        until=time_param("until", params.until),
        by=params.by,
    )
    return Stats(stats=stats.probe_stats(repository, query))


def get_series(repository: Repository, params: SeriesParams) -> ProbeSeries:
    query = queries.SeriesQuery(
        urls=tuple(params.url),
        since=time_param("since", params.since),
        until=time_param("until", params.until),
        bucket=bucket_param(params.bucket),
    )
    return queries.probe_series(repository, query)


def get_latest(repository: Repository, params: None) -> LatestProbes:
    return LatestProbes(latest=queries.latest_per_url(repository))


SECTION = Section(
    name="probes",
    title="HTTP probes",
    endpoints=(
        Endpoint(
            "/api/stats",
            "getStats",
            "Latency percentiles per URL, as `wm stats` prints them",
            get_stats,
            Stats,
            StatsParams,
        ),
        Endpoint(
            "/api/probes/series",
            "getProbeSeries",
            "Per URL, p50/p95/p99 and availability per time bucket",
            get_series,
            ProbeSeries,
            SeriesParams,
        ),
        Endpoint(
            "/api/probes/latest",
            "getLatestProbes",
            "The newest result of each URL",
            get_latest,
            LatestProbes,
        ),
    ),
    metrics=(metrics.probe_metrics,),
    streams=(LiveStream("probe", queries.latest_probe_id, queries.probes_after),),
    panel=Path(__file__).with_name("panel.js"),
)
