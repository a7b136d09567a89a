"""What a kind of data brings to `wm serve`: its endpoints, metrics, live streams and panel.

An `Endpoint` is a typed read: a function of the store and the request's
query parameters (a `msgspec.Struct` whose fields are the parameters) that
returns a typed document. The app runs it off the event loop and encodes
the document; the OpenAPI description is generated from the same two types
(`web.openapi`), so it cannot drift from what the route does. A route that
is not a plain read (`POST /api/logs`) is a starlette `Route` with its
OpenAPI path item written out.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, get_origin

import msgspec
from starlette.requests import Request
from starlette.routing import Route

from website_monitor.config import parse_duration, parse_time
from website_monitor.errors import ConfigError
from website_monitor.store import Reader, Repository


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """`GET path`: `call(repository, params)` returns a `response` document."""

    path: str
    operation_id: str
    summary: str
    call: Callable[[Repository, Any], msgspec.Struct]
    response: type[msgspec.Struct]
    params: type[msgspec.Struct] | None = None
    description: str | None = None


@dataclasses.dataclass(frozen=True)
class LiveStream:
    """Rows pushed to the page as server-sent events named `event`."""

    event: str
    #: The highest id (or cursor) now stored; a new subscriber starts after it.
    latest: Callable[[Repository], int]
    #: Rows above the cursor, oldest first, each with an `id` (the new cursor).
    after: Callable[[Repository, int], Sequence[Any]]


#: Prometheus metric families of one kind of data, computed from a snapshot at a scrape.
MetricsSource = Callable[[Reader], Iterable[Any]]


@dataclasses.dataclass(frozen=True)
class Section:
    name: str
    title: str
    endpoints: Sequence[Endpoint] = ()
    #: Routes that are not plain reads, with their OpenAPI path items and the component
    #: types those refer to.
    routes: Sequence[Route] = ()
    openapi_paths: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    openapi_types: Sequence[type] = ()
    metrics: Sequence[MetricsSource] = ()
    streams: Sequence[LiveStream] = ()
    #: Routes anyone may read, with or without the server's token: mounted only when the
    #: server is told what they may show (`wm serve --status-page`), and only under
    #: `web.app.PUBLIC_PREFIXES`.
    public_routes: Sequence[Route] = ()
    #: The open incidents of some URLs, as the public routes may show them: a function
    #: (reader, urls) -> incidents (`probes.public.status.PublicIncident`).
    public_incidents: Callable[[Reader, Sequence[str]], Sequence[Any]] | None = None
    #: The module that draws this section on the page (in the kind's package), served
    #: as /static/panels/<name>.js; None: nothing on the page.
    panel: Path | None = None


class ClientGone(Exception):
    """The client disconnected before its request was read whole: nothing to answer."""

    def __init__(self, request: str, received: int) -> None:
        super().__init__(f"{request}: the client went away after {received} bytes of the body")


def query_params(request: Request, kind: type[msgspec.Struct] | None) -> Any:
    """The request's query parameters as `kind`, or ConfigError (400) naming the one at fault."""
    if kind is None:
        return None
    values: dict[str, Any] = {}
    for field in msgspec.structs.fields(kind):
        if _is_list(field.type):
            found = [v for v in request.query_params.getlist(field.encode_name) if v]
            if found:
                values[field.name] = found
        else:
            value = request.query_params.get(field.encode_name)
            if value:
                values[field.name] = value
    try:
        return msgspec.convert(values, kind, strict=False)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).partition(" - at `$.")
        name = re.split(r"[`\[]", where)[0] or "?"
        raise ConfigError(f"query parameter {name}: {message}") from None


def _is_list(annotation: Any) -> bool:
    if hasattr(annotation, "__metadata__"):  # Annotated[list[str], Meta(...)]
        annotation = annotation.__origin__
    return get_origin(annotation) in (list, tuple) or annotation in (list, tuple)


def time_param(name: str, value: str | None) -> datetime | None:
    """A `since`/`until` parameter: ISO 8601 or an age; ConfigError naming it."""
    if not value:
        return None
    try:
        return parse_time(value)
    except ConfigError as exc:
        raise ConfigError(f"query parameter {name}: {exc.message}", hint=exc.hint) from None


def bucket_param(value: str | None) -> int | None:
    """A `bucket` parameter: a duration of at least a second, or auto (None)."""
    if not value or value == "auto":
        return None
    try:
        bucket = int(parse_duration(value))
    except ConfigError as exc:
        raise ConfigError(f"query parameter bucket: {exc.message}", hint=exc.hint) from None
    if bucket < 1:
        raise ConfigError("query parameter bucket: must be at least 1s")
    return bucket
