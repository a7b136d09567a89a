"""The public part of `wm serve`: a status page and badges for the URLs chosen with --status-page.

    GET /status                     the page (HTML, no script)
    GET /status.json                the same as JSON (`StatusDocument`)
    GET /badge/status.svg?url=U     up, degraded, down, unknown
    GET /badge/uptime.svg?url=U&window=30d
    GET /badge/p95.svg?url=U&window=7d
    GET /badge/{status,uptime,p95}.json?…   shields.io's endpoint format

These routes need no token even when `wm serve` has one (`web.app.BearerAuth`
lets `PUBLIC_PREFIXES` through on purpose) and are mounted only when URLs
were chosen. They answer for the chosen URLs only: any other `url` gets the
same 404 as a route that does not exist, so they reveal nothing of what else
is monitored. Answers are kept for `CACHE_SECONDS`, so a busy page or badge
costs the store one read per URL and window that often.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from website_monitor.errors import WebsiteMonitorError
from website_monitor.probes.public import badges
from website_monitor.probes.public.page import render
from website_monitor.probes.public.status import IncidentSource, StatusDocument, status_document
from website_monitor.probes.uptime import BADGE_WINDOWS, window_seconds
from website_monitor.web.section import Section

log = logging.getLogger(__name__)

CACHE_SECONDS = 30.0
UNAVAILABLE = "the status is unavailable right now (hint: try again in a minute)"
MAX_CACHED = 1024
DEFAULT_WINDOWS = {"uptime": "30d", "p95": "7d"}


class _Cache:
    """Answers by key for CACHE_SECONDS, at most MAX_CACHED of them (oldest dropped first)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[Any, tuple[float, Any]] = {}

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            found = self._values.get(key)
            if found is not None and found[0] > now:
                return found[1]
        value = compute()
        with self._lock:
            self._values.pop(key, None)
            self._values[key] = (now + CACHE_SECONDS, value)
            while len(self._values) > MAX_CACHED:
                del self._values[next(iter(self._values))]
        return value


class PublicPage:
    """What the public routes may show: the chosen URLs, and where open incidents come from."""

    def __init__(
        self, urls: Sequence[str], incidents: IncidentSource | None = None, title: str = "Status"
    ) -> None:
        self.urls = tuple(dict.fromkeys(urls))
        self.incidents = incidents
        self.title = title
        self.cache = _Cache()


def _page(request: Request) -> PublicPage:
    page: PublicPage | None = getattr(request.app.state, "public_page", None)
    if page is None or not page.urls:
        raise HTTPException(404, detail="Not Found")
    return page


async def _document(request: Request) -> StatusDocument:
    page = _page(request)
    store = request.app.state.store

    def compute() -> StatusDocument:
        result: StatusDocument = store.call(status_document, page.urls, page.incidents)
        return result

    document: StatusDocument = await _off_loop(page.cache.get, ("status",), compute)
    return document


async def _off_loop(fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(*args)` in a worker thread; a store's failure is a 503 that does not describe it.

    The store's messages name its host, database and user: the server's log and the
    API (behind the token) say them, the public only that the status is unavailable.
    """
    from starlette.concurrency import run_in_threadpool

    try:
        return await run_in_threadpool(fn, *args)
    except WebsiteMonitorError as exc:
        log.warning("public status page: %s", exc.message)
        raise HTTPException(503, detail=UNAVAILABLE) from None


async def status_page(request: Request) -> Response:
    document = await _document(request)
    return HTMLResponse(render(document, _page(request).title), headers=_PUBLIC_HEADERS)


async def status_json(request: Request) -> Response:
    document = await _document(request)
    return Response(
        msgspec.json.encode(document), media_type="application/json", headers=_PUBLIC_HEADERS
    )


_PUBLIC_HEADERS = {"Cache-Control": f"public, max-age={int(CACHE_SECONDS)}"}
_KINDS = ("status", "uptime", "p95")


async def badge(request: Request) -> Response:
    page = _page(request)
    kind, form = request.path_params["kind"], request.path_params["form"]
    if kind not in _KINDS or form not in ("svg", "json"):
        raise HTTPException(404, detail="Not Found")
    url = request.query_params.get("url", "")
    if url not in page.urls:
        raise HTTPException(404, detail="Not Found")  # the same answer as for no such route
    seconds = 0
    if kind != "status":
        seconds = window_seconds(request.query_params.get("window") or DEFAULT_WINDOWS[kind])
    store = request.app.state.store

    def compute() -> badges.Badge:
        if kind == "status":
            found: badges.Badge = store.call(badges.status_badge, url)
        elif kind == "uptime":
            found = store.call(badges.uptime_badge, url, seconds)
        else:
            found = store.call(badges.p95_badge, url, seconds)
        return found

    result: badges.Badge = await _off_loop(page.cache.get, (kind, url, seconds), compute)
    if form == "json":
        headers = {**_PUBLIC_HEADERS, "Access-Control-Allow-Origin": "*"}
        return Response(
            msgspec.json.encode(badges.endpoint_json(result)),
            media_type="application/json",
            headers=headers,
        )
    return Response(badges.svg(result), media_type="image/svg+xml", headers=_PUBLIC_HEADERS)


_ERROR_JSON = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def _operation(
    summary: str, ok: dict[str, Any], params: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "tags": ["status"],
            "security": [],  # public, with or without a token
            "parameters": list(params),
            "responses": {
                "200": {"description": summary, "content": ok},
                "400": {"$ref": "#/components/responses/BadRequest"},
                "404": {
                    "description": "Not a URL chosen with --status-page",
                    "content": _ERROR_JSON,
                },
                "503": {
                    "description": "The store cannot be read now (not described further)",
                    "content": _ERROR_JSON,
                },
            },
        }
    }


def _content(media: str, schema: str | None = None) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema}"} if schema else {"type": "string"}
    return {media: {"schema": ref}}


_URL = {
    "name": "url",
    "in": "query",
    "required": True,
    "description": "A URL chosen with --status-page",
    "schema": {"type": "string"},
}


def _window(default: str) -> dict[str, Any]:
    return {
        "name": "window",
        "in": "query",
        "description": f"one of {', '.join(BADGE_WINDOWS)} (default {default})",
        "schema": {"type": "string"},
    }


_SVG = _content("image/svg+xml")
_SHIELDS = _content("application/json", "ShieldsEndpoint")
#: Described only when served (`wm serve --status-page`): see `web.app.create_app`.
_OPENAPI = {
    "/status": _operation("The public status page", _content("text/html")),
    "/status.json": _operation(
        "The status page's content", _content("application/json", "StatusDocument")
    ),
    "/badge/status.svg": _operation("Status badge", _SVG, [_URL]),
    "/badge/uptime.svg": _operation("Uptime badge", _SVG, [_URL, _window("30d")]),
    "/badge/p95.svg": _operation("p95 latency badge", _SVG, [_URL, _window("7d")]),
    "/badge/status.json": _operation("Status, shields.io's endpoint format", _SHIELDS, [_URL]),
    "/badge/uptime.json": _operation(
        "Uptime, shields.io's endpoint format", _SHIELDS, [_URL, _window("30d")]
    ),
    "/badge/p95.json": _operation(
        "p95 latency, shields.io's endpoint format", _SHIELDS, [_URL, _window("7d")]
    ),
}
for _path, _item in _OPENAPI.items():
    _item["get"]["operationId"] = "get" + "".join(
        part.capitalize() for part in _path.replace(".", "/").split("/") if part
    )

SECTION = Section(
    name="status",
    title="Public status page",
    public_routes=(
        Route("/status", status_page),
        Route("/status.json", status_json),
        Route("/badge/{kind:str}.{form:str}", badge),
    ),
    openapi_paths=_OPENAPI,
    openapi_types=(StatusDocument, badges.ShieldsEndpoint),
)

__all__ = ["SECTION", "IncidentSource", "PublicPage"]
