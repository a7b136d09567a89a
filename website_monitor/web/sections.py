"""What the server shows, section by section.

A `Section` bundles what one kind of data contributes to `wm serve`: its API
routes with their OpenAPI description, its Prometheus metrics, its live
streams (rows pushed to the page over server-sent events) and the name of its
page panel (`static/panels/<panel>.js`). The app is assembled from `SECTIONS`;
a feature with its own tables (access-log hits and alerts, telemetry stations)
adds one `Section` to that tuple and one panel module, and nothing else changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from website_monitor import stats
from website_monitor.config import parse_duration, parse_time
from website_monitor.errors import ConfigError
from website_monitor.store import Repository
from website_monitor.web import api, metrics


@dataclasses.dataclass(frozen=True)
class LiveStream:
    """Rows of one table pushed to the page as server-sent events named `event`."""

    event: str
    #: The highest id now stored; a new subscriber starts after it.
    latest: Callable[[Repository], int]
    #: Rows with an id above the cursor, oldest first, each a dict with an `id`.
    after: Callable[[Repository, int], list[dict[str, Any]]]


@dataclasses.dataclass(frozen=True)
class Section:
    name: str
    title: str
    routes: Sequence[Route] = ()
    #: OpenAPI path items, keyed by path.
    openapi_paths: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: OpenAPI component schemas the path items refer to.
    openapi_schemas: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    metrics: Sequence[metrics.MetricsSource] = ()
    streams: Sequence[LiveStream] = ()
    #: Module under static/panels/ that draws this section on the page, if any.
    panel: str | None = None


Handler = Callable[[Request], Awaitable[Response]]


async def run_store(request: Request, fn: Callable[..., Any], *args: Any) -> Any:
    """Call `fn(repository, *args)` off the event loop, one store call at a time."""
    return await request.app.state.store.run(fn, *args)


# --- query parameters ------------------------------------------------------------------


def _time_param(request: Request, name: str) -> Any:
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        return parse_time(value)
    except ConfigError as exc:
        raise ConfigError(f"query parameter {name}: {exc.message}", hint=exc.hint) from None


def _urls(request: Request) -> tuple[str, ...]:
    return tuple(u for u in request.query_params.getlist("url") if u)


def stats_query(request: Request) -> stats.StatsQuery:
    by = request.query_params.get("by") or None
    if by is not None and by not in stats.GROUPINGS:
        raise ConfigError(
            f"query parameter by: unknown grouping {by!r}",
            hint="use one of " + ", ".join(stats.GROUPINGS),
        )
    return stats.StatsQuery(
        urls=_urls(request),
        since=_time_param(request, "since"),
        until=_time_param(request, "until"),
        by=by,
    )


def series_query(request: Request) -> api.SeriesQuery:
    raw = request.query_params.get("bucket")
    bucket = None
    if raw and raw != "auto":
        try:
            bucket = int(parse_duration(raw))
        except ConfigError as exc:
            raise ConfigError(f"query parameter bucket: {exc.message}", hint=exc.hint) from None
        if bucket < 1:
            raise ConfigError("query parameter bucket: must be at least 1s")
    return api.SeriesQuery(
        urls=_urls(request),
        since=_time_param(request, "since"),
        until=_time_param(request, "until"),
        bucket=bucket,
    )


# --- probes ----------------------------------------------------------------------------


async def get_stats(request: Request) -> Response:
    query = stats_query(request)
    return JSONResponse(await run_store(request, api.stats_json, query))


async def get_series(request: Request) -> Response:
    query = series_query(request)
    return JSONResponse(await run_store(request, api.probe_series, query))


async def get_latest(request: Request) -> Response:
    return JSONResponse({"latest": await run_store(request, api.latest_per_url)})


_TIME = {
    "type": "string",
    "description": "ISO 8601 (naive means UTC) or an age such as 15m, 1h, 7d",
}
_URL_PARAM = {
    "name": "url",
    "in": "query",
    "description": "Only this URL; repeat for several",
    "schema": {"type": "array", "items": {"type": "string"}},
    "style": "form",
    "explode": True,
}
_SINCE = {"name": "since", "in": "query", "description": "From this time", "schema": _TIME}
_UNTIL = {"name": "until", "in": "query", "description": "Before this time", "schema": _TIME}
_NUMBER_OR_NULL = {"type": "number", "nullable": True}


def _ok(description: str, schema_ref: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}},
    }


_ERRORS = {
    "400": {"$ref": "#/components/responses/BadRequest"},
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "503": {"$ref": "#/components/responses/StoreUnavailable"},
}

PROBES = Section(
    name="probes",
    title="HTTP probes",
    routes=(
        Route("/api/stats", get_stats),
        Route("/api/probes/series", get_series),
        Route("/api/probes/latest", get_latest),
    ),
    openapi_paths={
        "/api/stats": {
            "get": {
                "summary": "Latency percentiles per URL, as `wm stats` prints them",
                "operationId": "getStats",
                "tags": ["probes"],
                "parameters": [
                    _URL_PARAM,
                    _SINCE,
                    _UNTIL,
                    {
                        "name": "by",
                        "in": "query",
                        "description": "Also group by this",
                        "schema": {"type": "string", "enum": list(stats.GROUPINGS)},
                    },
                ],
                "responses": {"200": _ok("Percentiles per URL", "Stats"), **_ERRORS},
            }
        },
        "/api/probes/series": {
            "get": {
                "summary": "Per URL, p50/p95/p99 and availability per time bucket",
                "operationId": "getProbeSeries",
                "tags": ["probes"],
                "parameters": [
                    _URL_PARAM,
                    _SINCE,
                    _UNTIL,
                    {
                        "name": "bucket",
                        "in": "query",
                        "description": "Bucket width (30s, 1m, 5m, …); default: auto",
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {"200": _ok("Points per URL", "ProbeSeries"), **_ERRORS},
            }
        },
        "/api/probes/latest": {
            "get": {
                "summary": "The newest result of each URL",
                "operationId": "getLatestProbes",
                "tags": ["probes"],
                "responses": {"200": _ok("One result per URL", "LatestProbes"), **_ERRORS},
            }
        },
    },
    openapi_schemas={
        "StatsEntry": {
            "type": "object",
            "required": ["url", "probes", "p50_ms", "p95_ms", "p99_ms"],
            "properties": {
                "url": {"type": "string"},
                "http_status_code": {"type": "integer", "nullable": True},
                "probes": {"type": "integer"},
                "p50_ms": _NUMBER_OR_NULL,
                "p95_ms": _NUMBER_OR_NULL,
                "p99_ms": _NUMBER_OR_NULL,
                "errors": {"type": "integer"},
                "availability": {"type": "number", "minimum": 0, "maximum": 1},
            },
        },
        "Stats": {
            "type": "object",
            "required": ["stats"],
            "properties": {
                "stats": {"type": "array", "items": {"$ref": "#/components/schemas/StatsEntry"}}
            },
        },
        "SeriesPoint": {
            "type": "object",
            "required": ["t", "probes", "p50_ms", "p95_ms", "p99_ms", "availability"],
            "properties": {
                "t": {"type": "string", "format": "date-time", "description": "Bucket start"},
                "probes": {"type": "integer"},
                "p50_ms": _NUMBER_OR_NULL,
                "p95_ms": _NUMBER_OR_NULL,
                "p99_ms": _NUMBER_OR_NULL,
                "availability": {"type": "number", "minimum": 0, "maximum": 1},
            },
        },
        "ProbeSeries": {
            "type": "object",
            "required": ["bucket_seconds", "series"],
            "properties": {
                "bucket_seconds": {"type": "integer"},
                "series": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["url", "points"],
                        "properties": {
                            "url": {"type": "string"},
                            "points": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/SeriesPoint"},
                            },
                        },
                    },
                },
            },
        },
        "Probe": {
            "type": "object",
            "required": ["id", "url", "timestamp", "http_status_code", "response_time_ms", "ok"],
            "properties": {
                "id": {"type": "integer"},
                "url": {"type": "string"},
                "timestamp": {"type": "string", "format": "date-time"},
                "http_status_code": {"type": "integer", "nullable": True},
                "response_time_ms": _NUMBER_OR_NULL,
                "error": {"type": "string", "nullable": True},
                "ok": {"type": "boolean", "nullable": True},
                "dns_ms": _NUMBER_OR_NULL,
                "connect_ms": _NUMBER_OR_NULL,
                "tls_ms": _NUMBER_OR_NULL,
                "ttfb_ms": _NUMBER_OR_NULL,
            },
        },
        "LatestProbes": {
            "type": "object",
            "required": ["latest"],
            "properties": {
                "latest": {"type": "array", "items": {"$ref": "#/components/schemas/Probe"}}
            },
        },
    },
    metrics=(metrics.probe_metrics,),
    streams=(LiveStream("probe", api.latest_probe_id, api.probes_after),),
    panel="probes",
)


# --- the store itself: dead letters, schema ---------------------------------------------


def _store_status(repository: Repository) -> dict[str, Any]:
    return {
        "schema": api.schema_json(repository),
        "dead_letters": api.dead_letter_count(repository),
        "probes": repository.count_probes(),
    }


async def get_store(request: Request) -> Response:
    return JSONResponse(await run_store(request, _store_status))


async def get_dead_letters(request: Request) -> Response:
    letters = await run_store(request, api.dead_letters_after, 0, 100)
    count = await run_store(request, api.dead_letter_count)
    return JSONResponse({"count": count, "dead_letters": letters})


STORE = Section(
    name="store",
    title="Store",
    routes=(
        Route("/api/store", get_store),
        Route("/api/deadletters", get_dead_letters),
    ),
    openapi_paths={
        "/api/store": {
            "get": {
                "summary": "Schema version, dead letters and probe rows in the store",
                "operationId": "getStore",
                "tags": ["store"],
                "responses": {"200": _ok("Store status", "StoreStatus"), **_ERRORS},
            }
        },
        "/api/deadletters": {
            "get": {
                "summary": "Dead letters (the first 100; raw bytes: `wm dlq list`)",
                "operationId": "getDeadLetters",
                "tags": ["store"],
                "responses": {"200": _ok("Dead letters", "DeadLetters"), **_ERRORS},
            }
        },
    },
    openapi_schemas={
        "StoreStatus": {
            "type": "object",
            "required": ["schema", "dead_letters", "probes"],
            "properties": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "backend": {"type": "string", "enum": ["postgresql", "sqlite"]},
                        "current": {"type": "integer"},
                        "latest": {"type": "integer"},
                        "pending": {"type": "integer"},
                    },
                },
                "dead_letters": {"type": "integer"},
                "probes": {"type": "integer"},
            },
        },
        "DeadLetter": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "topic": {"type": "string"},
                "partition": {"type": "integer"},
                "offset": {"type": "integer"},
                "reason": {"type": "string"},
                "received_at": {"type": "string", "nullable": True},
            },
        },
        "DeadLetters": {
            "type": "object",
            "required": ["count", "dead_letters"],
            "properties": {
                "count": {"type": "integer"},
                "dead_letters": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/DeadLetter"},
                },
            },
        },
    },
    metrics=(metrics.store_metrics,),
    streams=(LiveStream("dead_letter", api.latest_dead_letter_id, api.dead_letters_after),),
    panel="store",
)

#: Every section the server is built from, in page order.
SECTIONS: tuple[Section, ...] = (PROBES, STORE)
