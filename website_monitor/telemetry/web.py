"""The telemetry's part of `wm serve`: buckets per station, metrics, live feed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from msgspec import Meta, Struct

from website_monitor.store import Repository
from website_monitor.telemetry import metrics, queries
from website_monitor.telemetry.models import Stations
from website_monitor.web.section import Endpoint, LiveStream, Section, time_param

Time = Annotated[str, Meta(description="ISO 8601 (naive means UTC) or an age such as 15m, 1h, 7d")]


class StationParams(Struct, kw_only=True):
    since: Annotated[Time, Meta(description="Buckets ending after this time")] | None = None
    until: Annotated[Time, Meta(description="Buckets starting before this time")] | None = None
    station: Annotated[list[str], Meta(description="Only this station or metric; repeatable")] = []


def get_stations(repository: Repository, params: StationParams) -> Stations:
    return queries.telemetry_document(
        repository,
        since=time_param("since", params.since),
        until=time_param("until", params.until),
        names=tuple(params.station),
    )


SECTION = Section(
    name="stations",
    title="Telemetry stations",
    endpoints=(
        Endpoint(
            "/api/stations",
            "getStations",
            "Telemetry buckets per station and metric, as `wm stations` prints them",
            get_stations,
            Stations,
            StationParams,
        ),
    ),
    metrics=(metrics.telemetry_metrics, metrics.listen_metrics),
    streams=(LiveStream("bucket", queries.latest_bucket_update, queries.buckets_after),),
    panel=Path(__file__).with_name("panel.js"),
)
