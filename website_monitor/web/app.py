"""The `wm serve` application (Starlette): page, JSON API, live events, /metrics.

Store calls are synchronous (psycopg2, sqlite3); they run in a worker thread,
one at a time over one repository, so the event loop never blocks and a single
connection serves every request.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from website_monitor import __version__
from website_monitor.errors import ConfigError, StoreUnavailable, WebsiteMonitorError
from website_monitor.logs import ingest
from website_monitor.probes.public import PublicPage
from website_monitor.probes.public.status import IncidentSource
from website_monitor.store import Repository
from website_monitor.web import openapi
from website_monitor.web.metrics import registry_for
from website_monitor.web.section import ClientGone, Endpoint, LiveStream, Section, query_params

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
#: Paths that need the bearer token when one is set. The page and its assets carry no data.
PROTECTED_PREFIXES = ("/api/", "/metrics")
#: Paths anyone may read even when a token is set: the status page and badges, which show
#: only the URLs chosen for them (`Section.public_routes`).
PUBLIC_PREFIXES = ("/status", "/badge/")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class StoreAccess:
    """One repository, used by one worker thread at a time."""

    def __init__(self, repository: Repository) -> None:
        self.repository = repository
        self._lock = threading.Lock()

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        with self._lock:
            return fn(self.repository, *args)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await run_in_threadpool(self.call, fn, *args)


def error_text(exc: WebsiteMonitorError) -> str:
    """The CLI's one-line `Error: … (hint: …)` form."""
    return f"Error: {exc.message}" + (f" (hint: {exc.hint})" if exc.hint else "")


def error_response(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=SECURITY_HEADERS)


async def _library_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WebsiteMonitorError)
    if isinstance(exc, ConfigError):
        status = 400
    elif isinstance(exc, StoreUnavailable):
        status = 503
    else:
        status = 500
    log.warning("%s %s: %s", request.method, request.url.path, error_text(exc))
    return error_response(error_text(exc), status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(f"Error: {exc.detail}", exc.status_code)


async def _client_gone(request: Request, exc: Exception) -> Response:
    log.info("%s", exc)
    return Response(status_code=400)  # nobody is left to read it


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response("Error: internal server error (hint: see the server log)", 500)


class BearerAuth:
    """Requires `Authorization: Bearer <token>` on protected paths.

    EventSource cannot send headers, so `/api/events` also accepts
    `?access_token=`. Public paths (`PUBLIC_PREFIXES`) pass without a token on
    purpose: they serve what was chosen to be public and nothing else.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        public = path.startswith(PUBLIC_PREFIXES)
        if scope["type"] == "http" and not public and path.startswith(PROTECTED_PREFIXES):
            request = Request(scope)
            header = request.headers.get("authorization", "")
            given = header[7:].strip() if header.lower().startswith("bearer ") else ""
            if not given and scope["path"] == "/api/events":
                given = request.query_params.get("access_token", "")
            if not hmac.compare_digest(given.encode(), self.token):
                response = error_response(
                    "Error: missing or wrong bearer token"
                    " (hint: send Authorization: Bearer <the --token of wm serve>)",
                    401,
                )
                response.headers["WWW-Authenticate"] = 'Bearer realm="wm"'
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class HostCheck:
    """Answers only requests whose `Host` names this server: a DNS-rebinding page (a name the
    attacker controls, resolved to this machine) would otherwise read the API and post lines
    from a visitor's browser, since to the browser that name is the page's own origin.

    Accepted: the names given (`--allowed-host`; `*` accepts any), `localhost` and loopback
    addresses when the server listens on loopback or on every interface, the listening
    address itself, and any IP address when it listens on every interface. A request
    without `Host` (HTTP/1.0; browsers always send one) is accepted.
    """

    def __init__(self, app: ASGIApp, bound: str, allowed: Sequence[str] = ()) -> None:
        self.app = app
        self.bound = bound.strip("[]").lower()
        self.allowed = {host.strip().lower() for host in allowed}

    def accepts(self, host: str) -> bool:
        name = _host_name(host)
        if name in self.allowed or "*" in self.allowed or name == self.bound:
            return True
        wildcard = self.bound in ("0.0.0.0", "::", "")  # noqa: S104 - comparing, not binding
        address = _ip(name)
        if wildcard and (address is not None or name == "localhost"):
            return True
        loopback = self.bound == "localhost" or getattr(_ip(self.bound), "is_loopback", False)
        return loopback and (name == "localhost" or bool(address and address.is_loopback))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host")
            if host is not None and not self.accepts(host.decode("latin-1")):
                name = _host_name(host.decode("latin-1"))[:100]
                response = error_response(
                    f"Error: this server does not answer to the host name {name!r}"
                    f" (hint: start wm serve with --allowed-host {name} if it should)",
                    421,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _host_name(host: str) -> str:
    """The name in a Host header, without the port: `[::1]:8080` -> `::1`."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- live events -----------------------------------------------------------------------


def encode_cursor(cursors: dict[str, int]) -> str:
    return ",".join(f"{name}:{value}" for name, value in sorted(cursors.items()))


def decode_cursor(text: str | None) -> dict[str, int]:
    """Parse `probe:12,dead_letter:3` (an SSE Last-Event-ID); ignores what does not parse."""
    cursors: dict[str, int] = {}
    for part in (text or "").split(","):
        name, _, value = part.partition(":")
        if name and value.isdigit():
            cursors[name.strip()] = int(value)
    return cursors


def _sse(event: str, data: Any, cursor: str | None = None) -> str:
    lines = [f"id: {cursor}"] if cursor is not None else []
    lines.append(f"event: {event}")
    lines.append("data: " + msgspec.json.encode(data).decode())
    return "\n".join(lines) + "\n\n"


def _id(row: Any) -> Any:
    return row["id"] if isinstance(row, dict) else row.id


async def live_events(request: Request) -> Response:
    """Server-sent events: every new row of every live stream, polled from the store."""
    state = request.app.state
    streams: Sequence[LiveStream] = state.streams
    store: StoreAccess = state.store
    interval: float = state.poll_interval
    stopping: threading.Event = state.stopping
    given = decode_cursor(request.headers.get("last-event-id") or request.query_params.get("after"))
    cursors: dict[str, int] = {}
    for stream in streams:
        if stream.event in given:
            cursors[stream.event] = given[stream.event]
        else:
            cursors[stream.event] = await store.run(stream.latest)

    async def generate() -> AsyncIterator[str]:
        yield f"retry: {int(interval * 1000) + 1000}\n"
        yield _sse("hello", {"cursor": encode_cursor(cursors)}, encode_cursor(cursors))
        idle = 0.0
        failing = False
        while not stopping.is_set():
            sent = False
            try:
                for stream in streams:
                    rows = await store.run(stream.after, cursors[stream.event])
                    for row in rows:
                        cursors[stream.event] = int(_id(row))
                        yield _sse(stream.event, row, encode_cursor(cursors))
                        sent = True
                if failing:
                    failing = False
                    yield _sse("store", {"ok": True})
            except WebsiteMonitorError as exc:
                if not failing:
                    failing = True
                    log.warning("live events: %s", error_text(exc))
                    yield _sse("store", {"ok": False, "error": error_text(exc)})
            idle = 0.0 if sent else idle + interval
            if idle >= 15.0:
                idle = 0.0
                yield ": keep-alive\n\n"
            for _ in range(max(1, round(interval / 0.1))):
                if stopping.is_set():
                    break
                await asyncio.sleep(min(interval, 0.1))

    return StreamingResponse(
        generate(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# --- page, panels, metrics, sections, OpenAPI ---------------------------------------------


class SectionInfo(msgspec.Struct, kw_only=True):
    name: str
    title: str
    panel: str | None


class Sections(msgspec.Struct, kw_only=True):
    """What this server shows: its sections (page order), their panels, live event names."""

    version: str
    sections: list[SectionInfo]
    events: list[str]


def encoded(document: Any, status: int = 200) -> Response:
    """A typed document (or any value msgspec encodes) as a JSON response."""
    return Response(msgspec.json.encode(document), status, media_type="application/json")


def endpoint_route(endpoint: Endpoint) -> Route:
    """The route that runs `endpoint` off the event loop and returns its document."""

    async def handle(request: Request) -> Response:
        params = query_params(request, endpoint.params)
        store: StoreAccess = request.app.state.store
        return encoded(await store.run(endpoint.call, params))

    return Route(endpoint.path, handle, name=endpoint.operation_id)


async def page(request: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def panel(request: Request) -> Response:
    found: dict[str, Path] = request.app.state.panels
    path = found.get(request.path_params["name"])
    if path is None:
        raise HTTPException(404, detail="Not Found")
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


async def get_metrics(request: Request) -> Response:
    registry = request.app.state.registry
    body = await request.app.state.store.run(lambda _repository: generate_latest(registry))
    return Response(body, media_type=CONTENT_TYPE_LATEST)


async def get_sections(request: Request) -> Response:
    sections: Sequence[Section] = request.app.state.sections
    return encoded(
        Sections(
            version=__version__,
            sections=[
                SectionInfo(name=s.name, title=s.title, panel=s.name if s.panel else None)
                for s in sections
            ],
            events=[stream.event for stream in request.app.state.streams],
        )
    )


async def get_openapi(request: Request) -> Response:
    return encoded(request.app.state.openapi)


def registered_sections() -> list[Section]:
    """Every kind of data's sections, in registry order."""
    from website_monitor import features

    return [section for f in features.FEATURES if f.web is not None for section in f.web()]


def create_app(
    repository: Repository,
    *,
    token: str | None = None,
    poll_interval: float = 1.0,
    sections: Sequence[Section] | None = None,
    stopping: threading.Event | None = None,
    max_body: int = ingest.MAX_BODY,
    max_lines: int = ingest.MAX_LINES,
    bound: str = "127.0.0.1",
    allowed_hosts: Sequence[str] = (),
    status_urls: Sequence[str] = (),
    status_incidents: IncidentSource | None = None,
) -> ASGIApp:
    """The ASGI app over an open repository (the caller closes it).

    `max_body` (bytes) and `max_lines` bound one `POST /api/logs`. `bound` is the host
    the server listens on and `allowed_hosts` further names it answers to (`HostCheck`).

    `status_urls` are the URLs the public status page and badges show (none: those
    routes are not mounted); `status_incidents` lists their open incidents on the page.

    Live event streams end once `stopping` is set (pass the server's, see `WebServer`).
    """
    sections = registered_sections() if sections is None else list(sections)
    routes: list[Route | Mount] = [
        Route("/", page),
        Route("/api/sections", get_sections),
        Route("/api/events", live_events),
        Route("/api/openapi.json", get_openapi),
        Route("/metrics", get_metrics),
        Route("/static/panels/{name:str}.js", panel),
    ]
    for section in sections:
        routes.extend(endpoint_route(endpoint) for endpoint in section.endpoints)
        routes.extend(section.routes)
        for route in section.public_routes:
            if not route.path.startswith(PUBLIC_PREFIXES) or route.path.startswith(
                PROTECTED_PREFIXES
            ):
                raise ValueError(f"public route {route.path} is outside {PUBLIC_PREFIXES}")
            if status_urls:
                routes.append(route)
    routes.append(Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"))
    app = Starlette(
        routes=routes,
        exception_handlers={
            WebsiteMonitorError: _library_error,
            HTTPException: _http_error,
            ClientGone: _client_gone,
            Exception: _unexpected,
        },
    )
    app.state.store = StoreAccess(repository)
    app.state.sections = tuple(sections)
    app.state.streams = tuple(stream for s in sections for stream in s.streams)
    app.state.poll_interval = poll_interval
    app.state.max_body = max_body
    app.state.max_lines = max_lines
    if status_incidents is None:  # from the kind of data that records incidents, if any
        status_incidents = next(
            (s.public_incidents for s in sections if s.public_incidents is not None), None
        )
    app.state.public_page = PublicPage(status_urls, status_incidents) if status_urls else None
    app.state.stopping = stopping or threading.Event()
    app.state.panels = {s.name: s.panel for s in sections if s.panel is not None}
    app.state.registry = registry_for(
        repository, [source for s in sections for source in s.metrics]
    )
    document = openapi.document(sections, bool(token), server_types=(Sections,))
    if not status_urls:  # public routes are described only when served
        for path in [p for p in document["paths"] if p.startswith(PUBLIC_PREFIXES)]:
            del document["paths"][path]
    app.state.openapi = document
    wrapped: ASGIApp = SecurityHeaders(app)
    if token:
        wrapped = BearerAuth(wrapped, token)
    return HostCheck(wrapped, bound, allowed_hosts)
