"""The access logs' part of `wm serve`: traffic per section and over time, the log ingest
(`POST /api/logs`), and the high-traffic alerts."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import orjson
from msgspec import Meta, Struct
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from website_monitor.errors import ConfigError
from website_monitor.logs import ingest, metrics, queries
from website_monitor.logs.formats import FORMATS
from website_monitor.logs.models import Alerts, Hits, HitSeries, LineNote, LogIngest
from website_monitor.store import Repository
from website_monitor.web.section import (
    ClientGone,
    Endpoint,
    LiveStream,
    Section,
    bucket_param,
    time_param,
)

Time = Annotated[str, Meta(description="ISO 8601 (naive means UTC) or an age such as 15m, 1h, 7d")]


class RangeParams(Struct, kw_only=True):
    since: Annotated[Time, Meta(description="From this time")] | None = None
    until: Annotated[Time, Meta(description="Before this time")] | None = None


class SeriesParams(RangeParams, kw_only=True):
    bucket: Annotated[str, Meta(description="Bucket width (10s, 1m, 5m, …); default: auto")] | (
        None
    ) = None


class AlertParams(Struct, kw_only=True):
    source: Annotated[str, Meta(description="Only this source")] | None = None


class LogBatch(Struct, kw_only=True):
    """Lines to ingest, as JSON."""

    source: Annotated[str, Meta(max_length=ingest.MAX_SOURCE)]
    lines: list[str]
    format: Literal["auto", "clf", "combined", "w3c"] = "auto"
    batch: Annotated[str, Meta(description="Client-chosen id for safe retries")] | None = None


def get_hits(repository: Repository, params: RangeParams) -> Hits:
    return Hits(
        hits=queries.hit_stats(
            repository,
            since=time_param("since", params.since),
            until=time_param("until", params.until),
        )
    )


def get_hit_series(repository: Repository, params: SeriesParams) -> HitSeries:
    return queries.hits_series(
        repository,
        time_param("since", params.since),
        time_param("until", params.until),
        bucket_param(params.bucket),
    )


def get_alerts(repository: Repository, params: AlertParams) -> Alerts:
    return Alerts(alerts=queries.list_alerts(repository, source=params.source))


def _too_large(what: str) -> HTTPException:
    return HTTPException(413, detail=what)


#: How long a client may take to send the whole body.
BODY_TIMEOUT = 30.0


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, or 413 as soon as it is known to exceed `limit` bytes, 408 if it does not
    arrive within BODY_TIMEOUT seconds."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(f"request body of {declared} bytes is over the limit of {limit}")
    body = bytearray()

    async def read() -> None:
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                raise _too_large(f"request body is over the limit of {limit} bytes")

    try:
        await asyncio.wait_for(read(), BODY_TIMEOUT)
    except asyncio.TimeoutError:
        raise HTTPException(
            408, detail=f"the body did not arrive within {BODY_TIMEOUT:g}s ({len(body)} bytes)"
        ) from None
    except ClientDisconnect:
        raise ClientGone(f"{request.method} {request.url.path}", len(body)) from None
    return bytes(body)


def _text_lines(body: bytes) -> tuple[list[str], list[LineNote]]:
    """Lines of a text/plain body; a line that is not UTF-8 is rejected, not mangled."""
    raw = body.split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
    lines: list[str] = []
    rejected: list[LineNote] = []
    for index, data in enumerate(raw):
        try:
            lines.append(data.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append("")
            rejected.append(LineNote(line=index, reason="not valid UTF-8"))
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
    undecodable: list[LineNote] = []
    if kind == "application/json":
        try:
            document = orjson.loads(body)  # nesting is limited (1,024 levels): no recursion
        except orjson.JSONDecodeError as exc:
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
    stored, refusals = await request.app.state.store.run(ingest.store_hits, parsed.hits)
    refused = [
        LineNote(line=line, reason=reason)
        for line, reason in zip(parsed.lines, refusals, strict=True)
        if reason
    ]
    bad = {note.line for note in undecodable}
    rejected = sorted(
        [*undecodable, *refused, *(r for r in parsed.rejected if r.line not in bad)],
        key=lambda r: r.line,
    )
    ignored = [note for note in parsed.ignored if note.line not in bad]
    answer = LogIngest(
        accepted=len(parsed.hits) - len(refused), stored=stored, rejected=rejected, ignored=ignored
    )
    return Response(msgspec.json.encode(answer), media_type="application/json")


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


_POST_LOGS = {
    "post": {
        "summary": "Ingest raw access-log lines as hits (parsed as `wm tail` does)",
        "description": "JSON `{source, lines, format?, batch?}`, or text/plain lines"
        " with `?source=` (and `format=`, `batch=`). Every line is accepted, rejected"
        " with a reason, or ignored (blank, W3C directive). With `batch`, a repeated"
        " request stores nothing twice (`stored` counts new rows).",
        "operationId": "postLogs",
        "tags": ["hits"],
        "parameters": [
            {"name": "source", "in": "query", "schema": {"type": "string"}},
            {"name": "format", "in": "query", "schema": {"type": "string", "enum": list(FORMATS)}},
            {"name": "batch", "in": "query", "schema": {"type": "string"}},
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/LogBatch"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        },
        "responses": {
            "200": {
                "description": "What became of each line",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/LogIngest"}}
                },
            },
            "400": {"$ref": "#/components/responses/BadRequest"},
            "401": {"$ref": "#/components/responses/Unauthorized"},
            "403": _error("A browser's cross-origin request"),
            "413": {"$ref": "#/components/responses/TooLarge"},
            "415": _error("Neither application/json nor text/plain"),
            "503": {"$ref": "#/components/responses/StoreUnavailable"},
        },
    }
}

HITS = Section(
    name="hits",
    title="Access-log traffic",
    endpoints=(
        Endpoint(
            "/api/hits",
            "getHits",
            "Hits, 5xx rate and response-size percentiles per section,"
            " as `wm stats --hits` prints them",
            get_hits,
            Hits,
            RangeParams,
        ),
        Endpoint(
            "/api/hits/series",
            "getHitSeries",
            "Per source, hits and hits/s per time bucket, with the alert threshold",
            get_hit_series,
            HitSeries,
            SeriesParams,
        ),
    ),
    routes=(Route("/api/logs", post_logs, methods=["POST"]),),
    openapi_paths={"/api/logs": _POST_LOGS},
    openapi_types=(LogBatch, LogIngest),
    metrics=(metrics.hit_metrics,),
    streams=(LiveStream("hits", queries.latest_hit_id, queries.hits_after),),
    panel=Path(__file__).with_name("panel.js"),
)

ALERTS = Section(
    name="alerts",
    title="High-traffic alerts",
    endpoints=(
        Endpoint(
            "/api/alerts",
            "getAlerts",
            "Past and open alerts, as `wm alerts` prints them",
            get_alerts,
            Alerts,
            AlertParams,
        ),
    ),
    metrics=(metrics.alert_metrics,),
    streams=(LiveStream("alerts", queries.alert_changes, queries.alerts_after),),
    panel=Path(__file__).with_name("alerts_panel.js"),
)
