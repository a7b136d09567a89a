"""What the access-log queries return: typed documents for the CLI, the API and OpenAPI."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

Bytes = Annotated[float, Meta(description="bytes")] | None


class HitSection(Struct, kw_only=True):
    """Traffic of one section (`/` plus the first path segment)."""

    section: str
    hits: int
    errors: Annotated[int, Meta(description="5xx responses")]
    error_rate: float
    bytes: int
    bytes_p50: Bytes
    bytes_p95: Bytes
    bytes_p99: Bytes


class Hits(Struct, kw_only=True):
    """What `wm stats --hits` prints."""

    hits: list[HitSection]


class HitPoint(Struct, kw_only=True):
    t: Annotated[str, Meta(description="bucket start, ISO 8601 UTC")]
    hits: int
    hits_per_second: float


class SourceSeries(Struct, kw_only=True):
    source: str
    threshold: Annotated[float | None, Meta(description="of the source's newest recorded alert")]
    points: list[HitPoint]


class HitSeries(Struct, kw_only=True):
    """Per source, hits and hits/s per time bucket, with the alert threshold."""

    bucket_seconds: int
    series: list[SourceSeries]


class Alert(Struct, kw_only=True):
    """A high-traffic alert of `wm tail`."""

    id: str
    source: str
    kind: str
    started_at: str | None
    ended_at: Annotated[str | None, Meta(description="null while the alert is open")]
    peak: float
    threshold: float


class Alerts(Struct, kw_only=True):
    """What `wm alerts` prints, oldest first."""

    alerts: list[Alert]


class LineNote(Struct, kw_only=True):
    line: Annotated[int, Meta(description="index in `lines`, from 0")]
    reason: str


class LogIngest(Struct, kw_only=True):
    """What became of each line of a `POST /api/logs`."""

    accepted: int
    stored: int
    rejected: list[LineNote]
    ignored: list[LineNote]
