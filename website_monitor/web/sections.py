"""What the server shows, section by section.

A `Section` bundles what one kind of data contributes to `wm serve`: its API
routes with their OpenAPI description, its Prometheus metrics, its live
streams (rows pushed to the page over server-sent events) and the name of its
page panel (`static/panels/<panel>.js`). The app is assembled from `SECTIONS`:
probes, access-log hits (with the `POST /api/logs` ingest), alerts, telemetry
stations and the store; a feature with its own tables adds one `Section` to that
tuple and one panel module, and nothing else changes.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from website_monitor import stats
from website_monitor.config import parse_duration, parse_time
from website_monitor.errors import ConfigError
from website_monitor.logs.formats import FORMATS
from website_monitor.store import Repository
from website_monitor.web import api, ingest, metrics


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


def _bucket_param(request: Request) -> int | None:
    raw = request.query_params.get("bucket")
    bucket = None
    if raw and raw != "auto":
        try:
            bucket = int(parse_duration(raw))
        except ConfigError as exc:
            raise ConfigError(f"query parameter bucket: {exc.message}", hint=exc.hint) from None
        if bucket < 1:
            raise ConfigError("query parameter bucket: must be at least 1s")
    return bucket


def series_query(request: Request) -> api.SeriesQuery:
    return api.SeriesQuery(
        urls=_urls(request),
        since=_time_param(request, "since"),
        until=_time_param(request, "until"),
        bucket=_bucket_param(request),
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

# --- access-log hits and the log ingest ---------------------------------------------------


async def get_hits(request: Request) -> Response:
    since, until = _time_param(request, "since"), _time_param(request, "until")
    return JSONResponse(await run_store(request, api.hits_json, since, until))


async def get_hits_series(request: Request) -> Response:
    since, until = _time_param(request, "since"), _time_param(request, "until")
    bucket = _bucket_param(request)
    return JSONResponse(await run_store(request, api.hits_series, since, until, bucket))


def _too_large(what: str) -> HTTPException:
    return HTTPException(413, detail=what)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, or 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(f"request body of {declared} bytes is over the limit of {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise _too_large(f"request body is over the limit of {limit} bytes")
    return bytes(body)


def _text_lines(body: bytes) -> tuple[list[str], list[dict[str, Any]]]:
    """Lines of a text/plain body; a line that is not UTF-8 is rejected, not mangled."""
    raw = body.split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
    lines: list[str] = []
    rejected: list[dict[str, Any]] = []
    for index, data in enumerate(raw):
        try:
            lines.append(data.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append("")
            rejected.append({"line": index, "reason": "not valid UTF-8"})
    return lines, rejected


def _check_origin(request: Request) -> None:
    """Refuse a browser's cross-site POST: a text/plain one needs no CORS preflight, so any
    web page could otherwise make a visitor's browser post lines to a loopback server."""
    origin = request.headers.get("origin")
    if origin is None:
        return  # not sent by a browser (curl, wm tail --ship)
    host = request.headers.get("host", "")
    if origin.split("://", 1)[-1].rstrip("/") != host:
        raise HTTPException(
            403, detail=f"cross-origin POST from {origin[:100]} refused (hint: post from {host})"
        )


async def post_logs(request: Request) -> Response:
    _check_origin(request)
    max_body: int = request.app.state.max_body
    max_lines: int = request.app.state.max_lines
    body = await _read_body(request, max_body)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    params = request.query_params
    undecodable: list[dict[str, Any]] = []
    if kind == "application/json":
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"the body is not valid JSON: {exc}") from None
        if not isinstance(document, dict):
            raise ConfigError('the body must be a JSON object {"source": …, "lines": […]}')
        source = document.get("source", params.get("source"))
        lines = document.get("lines")
        fmt = document.get("format", params.get("format", "auto"))
        batch = document.get("batch", params.get("batch"))
    elif kind == "text/plain":
        source, fmt, batch = params.get("source"), params.get("format", "auto"), params.get("batch")
        lines, undecodable = _text_lines(body)
    else:
        raise HTTPException(
            415, detail="send application/json or text/plain (hint: see /api/openapi.json)"
        )
    source, lines, fmt, batch = ingest.check_request(source, lines, fmt, batch)
    if len(lines) > max_lines:
        raise _too_large(f"{len(lines)} lines is over the limit of {max_lines} per request")
    parsed = ingest.parse_lines(lines, source, fmt, batch)
    bad = {entry["line"] for entry in undecodable}
    rejected = sorted(
        [*undecodable, *(r for r in parsed.rejected if r["line"] not in bad)],
        key=lambda r: int(r["line"]),
    )
    ignored = [entry for entry in parsed.ignored if entry["line"] not in bad]
    stored = await run_store(request, ingest.store_hits, parsed.hits)
    return JSONResponse(
        {
            "accepted": len(parsed.hits),
            "stored": stored,
            "rejected": rejected,
            "ignored": ignored,
        }
    )


_HIT_SECTION = {
    "type": "object",
    "required": ["section", "hits", "errors", "error_rate", "bytes"],
    "properties": {
        "section": {"type": "string"},
        "hits": {"type": "integer"},
        "errors": {"type": "integer", "description": "5xx responses"},
        "error_rate": {"type": "number"},
        "bytes": {"type": "integer"},
        "bytes_p50": _NUMBER_OR_NULL,
        "bytes_p95": _NUMBER_OR_NULL,
        "bytes_p99": _NUMBER_OR_NULL,
    },
}
_LINE_NOTE = {
    "type": "object",
    "required": ["line", "reason"],
    "properties": {
        "line": {"type": "integer", "description": "Index in `lines`, from 0"},
        "reason": {"type": "string"},
    },
}
_BUCKET = {
    "name": "bucket",
    "in": "query",
    "description": "Bucket width (10s, 1m, 5m, …); default: auto",
    "schema": {"type": "string"},
}

HITS = Section(
    name="hits",
    title="Access-log traffic",
    routes=(
        Route("/api/hits", get_hits),
        Route("/api/hits/series", get_hits_series),
        Route("/api/logs", post_logs, methods=["POST"]),
    ),
    openapi_paths={
        "/api/hits": {
            "get": {
                "summary": "Hits, 5xx rate and response-size percentiles per section,"
                " as `wm stats --hits` prints them",
                "operationId": "getHits",
                "tags": ["hits"],
                "parameters": [_SINCE, _UNTIL],
                "responses": {"200": _ok("Traffic per section", "Hits"), **_ERRORS},
            }
        },
        "/api/hits/series": {
            "get": {
                "summary": "Per source, hits and hits/s per time bucket, with the alert threshold",
                "operationId": "getHitSeries",
                "tags": ["hits"],
                "parameters": [_SINCE, _UNTIL, _BUCKET],
                "responses": {"200": _ok("Points per source", "HitSeries"), **_ERRORS},
            }
        },
        "/api/logs": {
            "post": {
                "summary": "Ingest raw access-log lines as hits (parsed as `wm tail` does)",
                "description": "JSON `{source, lines, format?, batch?}`, or text/plain lines"
                " with `?source=` (and `format=`, `batch=`). Every line is accepted, rejected"
                " with a reason, or ignored (blank, W3C directive). With `batch`, a repeated"
                " request stores nothing twice (`stored` counts new rows).",
                "operationId": "postLogs",
                "tags": ["hits"],
                "parameters": [
                    {"name": n, "in": "query", "schema": {"type": "string"}}
                    for n in ("source", "format", "batch")
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/LogBatch"}},
                        "text/plain": {"schema": {"type": "string"}},
                    },
                },
                "responses": {
                    "200": _ok("What became of each line", "LogIngest"),
                    "403": {
                        "description": "A browser's cross-origin request",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    },
                    "413": {"$ref": "#/components/responses/TooLarge"},
                    "415": {
                        "description": "Neither application/json nor text/plain",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    },
                    **_ERRORS,
                },
            }
        },
    },
    openapi_schemas={
        "HitSection": _HIT_SECTION,
        "Hits": {
            "type": "object",
            "required": ["hits"],
            "properties": {
                "hits": {"type": "array", "items": {"$ref": "#/components/schemas/HitSection"}}
            },
        },
        "HitSeries": {
            "type": "object",
            "required": ["bucket_seconds", "series"],
            "properties": {
                "bucket_seconds": {"type": "integer"},
                "series": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["source", "threshold", "points"],
                        "properties": {
                            "source": {"type": "string"},
                            "threshold": {
                                "type": "number",
                                "nullable": True,
                                "description": "Of the source's newest recorded alert",
                            },
                            "points": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["t", "hits", "hits_per_second"],
                                    "properties": {
                                        "t": {"type": "string", "format": "date-time"},
                                        "hits": {"type": "integer"},
                                        "hits_per_second": {"type": "number"},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
        "LogBatch": {
            "type": "object",
            "required": ["source", "lines"],
            "properties": {
                "source": {"type": "string", "maxLength": ingest.MAX_SOURCE},
                "lines": {"type": "array", "items": {"type": "string"}},
                "format": {"type": "string", "enum": list(FORMATS)},
                "batch": {"type": "string", "description": "Client-chosen id for safe retries"},
            },
        },
        "LineNote": _LINE_NOTE,
        "LogIngest": {
            "type": "object",
            "required": ["accepted", "stored", "rejected", "ignored"],
            "properties": {
                "accepted": {"type": "integer"},
                "stored": {"type": "integer"},
                "rejected": {"type": "array", "items": {"$ref": "#/components/schemas/LineNote"}},
                "ignored": {"type": "array", "items": {"$ref": "#/components/schemas/LineNote"}},
            },
        },
    },
    metrics=(metrics.hit_metrics,),
    streams=(LiveStream("hits", api.latest_hit_id, api.hits_after),),
    panel="hits",
)


# --- high-traffic alerts -------------------------------------------------------------------


async def get_alerts(request: Request) -> Response:
    source = request.query_params.get("source") or None
    return JSONResponse(await run_store(request, api.alerts_json, source))


ALERTS = Section(
    name="alerts",
    title="High-traffic alerts",
    routes=(Route("/api/alerts", get_alerts),),
    openapi_paths={
        "/api/alerts": {
            "get": {
                "summary": "Past and open alerts, as `wm alerts` prints them",
                "operationId": "getAlerts",
                "tags": ["alerts"],
                "parameters": [
                    {
                        "name": "source",
                        "in": "query",
                        "description": "Only this source",
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {"200": _ok("Alerts, oldest first", "Alerts"), **_ERRORS},
            }
        }
    },
    openapi_schemas={
        "Alert": {
            "type": "object",
            "required": ["id", "source", "kind", "started_at", "ended_at", "peak", "threshold"],
            "properties": {
                "id": {"type": "string"},
                "source": {"type": "string"},
                "kind": {"type": "string"},
                "started_at": {"type": "string", "format": "date-time"},
                "ended_at": {
                    "type": "string",
                    "format": "date-time",
                    "nullable": True,
                    "description": "null while the alert is open",
                },
                "peak": {"type": "number"},
                "threshold": {"type": "number"},
            },
        },
        "Alerts": {
            "type": "object",
            "required": ["alerts"],
            "properties": {
                "alerts": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}}
            },
        },
    },
    metrics=(metrics.alert_metrics,),
    streams=(LiveStream("alerts", api.alert_changes, api.alerts_after),),
    panel="alerts",
)


# --- telemetry stations ----------------------------------------------------------------------


async def get_stations(request: Request) -> Response:
    since, until = _time_param(request, "since"), _time_param(request, "until")
    names = tuple(n for n in request.query_params.getlist("station") if n)
    return JSONResponse(await run_store(request, api.stations_json, since, until, names))


STATIONS = Section(
    name="stations",
    title="Telemetry stations",
    routes=(Route("/api/stations", get_stations),),
    openapi_paths={
        "/api/stations": {
            "get": {
                "summary": "Telemetry buckets per station and metric, as `wm stations` prints them",
                "operationId": "getStations",
                "tags": ["stations"],
                "parameters": [
                    {**_SINCE, "description": "Buckets ending after this time"},
                    {**_UNTIL, "description": "Buckets starting before this time"},
                    {
                        "name": "station",
                        "in": "query",
                        "description": "Only this station or metric; repeatable",
                        "schema": {"type": "array", "items": {"type": "string"}},
                        "style": "form",
                        "explode": True,
                    },
                ],
                "responses": {"200": _ok("Buckets", "Stations"), **_ERRORS},
            }
        }
    },
    openapi_schemas={
        "Bucket": {
            "type": "object",
            "required": ["name", "type", "bucket_start", "bucket_end", "current"],
            "properties": {
                "name": {"type": "string"},
                "type": {"type": "string", "enum": ["station", "timer", "counter", "gauge"]},
                "bucket_start": {"type": "string", "format": "date-time"},
                "bucket_end": {"type": "string", "format": "date-time"},
                "bucket_seconds": {"type": "integer"},
                "current": {"type": "boolean"},
                "arrivals": {"type": "integer"},
                "departures": {"type": "integer"},
                "status": {"type": "string", "nullable": True},
                "count": {"type": "integer"},
                "mean": _NUMBER_OR_NULL,
                "variance": _NUMBER_OR_NULL,
                "min": _NUMBER_OR_NULL,
                "max": _NUMBER_OR_NULL,
            },
        },
        "Stations": {
            "type": "object",
            "required": ["stations"],
            "properties": {
                "stations": {"type": "array", "items": {"$ref": "#/components/schemas/Bucket"}}
            },
        },
    },
    metrics=(metrics.telemetry_metrics,),
    streams=(LiveStream("bucket", api.latest_bucket_update, api.buckets_after),),
    panel="stations",
)

#: Every section the server is built from, in page order.
SECTIONS: tuple[Section, ...] = (PROBES, HITS, ALERTS, STATIONS, STORE)
