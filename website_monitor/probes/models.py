"""What the probes' queries return: typed documents for `wm stats`, the API and OpenAPI.

The CLI prints these, the API returns them, and the OpenAPI document is
generated from them, so the three cannot disagree.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import UNSET, Meta, Struct, UnsetType

#: The percentiles every latency figure reports: field name, fraction.
PERCENTILES = (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99))

Milliseconds = Annotated[float, Meta(description="milliseconds")] | None
Ratio = Annotated[float, Meta(ge=0, le=1)]


class Percentiles(Struct, kw_only=True):
    """p50/p95/p99 of one phase of the checks, in milliseconds."""

    p50_ms: Milliseconds
    p95_ms: Milliseconds
    p99_ms: Milliseconds


class Phases(Struct, kw_only=True):
    """Percentiles of the connection phases (exact, from the raw rows)."""

    dns: Percentiles
    connect: Percentiles
    tls: Percentiles
    ttfb: Percentiles


class StatsEntry(Struct, kw_only=True):
    """Latency and health of one URL (per status or period, when grouped)."""

    url: str
    http_status_code: Annotated[int | None, Meta(description="with by=status")] | UnsetType = UNSET
    period: Annotated[str, Meta(description="start of the hour or day, with by=hour|day")] | (
        UnsetType
    ) = UNSET
    location: Annotated[str | None, Meta(description="where the checks ran, with by=location")] | (
        UnsetType
    ) = UNSET
    probes: int
    p50_ms: Milliseconds
    p95_ms: Milliseconds
    p99_ms: Milliseconds
    errors: Annotated[
        int, Meta(description="checks with an error kind: no answer, or a failed check")
    ]
    availability: Annotated[
        Ratio, Meta(description="uptime: good checks over all checks (see docs/checks.md)")
    ]
    phases: Phases | UnsetType = UNSET
    cert_expires_at: (
        Annotated[
            str,
            Meta(description="HTTPS: expiry of the certificates of the newest result in range"),
        ]
        | UnsetType
    ) = UNSET


class Stats(Struct, kw_only=True):
    """What `wm stats` prints."""

    stats: list[StatsEntry]


class SeriesPoint(Struct, kw_only=True):
    """One time bucket of one URL."""

    t: Annotated[str, Meta(description="bucket start, ISO 8601 UTC")]
    probes: int
    p50_ms: Milliseconds
    p95_ms: Milliseconds
    p99_ms: Milliseconds
    availability: Ratio


class UrlSeries(Struct, kw_only=True):
    url: str
    points: list[SeriesPoint]


class ProbeSeries(Struct, kw_only=True):
    """Per URL, p50/p95/p99 and availability per time bucket."""

    bucket_seconds: int
    series: list[UrlSeries]


class Probe(Struct, kw_only=True):
    """One stored check."""

    id: int
    url: str
    timestamp: str
    http_status_code: int | None
    response_time_ms: Milliseconds
    error: str | None
    ok: bool | None
    dns_ms: Milliseconds
    connect_ms: Milliseconds
    tls_ms: Milliseconds
    ttfb_ms: Milliseconds
    location: Annotated[str | None, Meta(description="where the check ran")] = None
    cert_expires_at: Annotated[str | None, Meta(description="HTTPS: earliest expiry")] = None
    failed_condition: Annotated[str | None, Meta(description="first --expect that failed")] = None


class LatestProbes(Struct, kw_only=True):
    """The newest result of each URL."""

    latest: list[Probe]
