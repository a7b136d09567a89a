"""What the public status page says of each chosen check: its state now and its uptime.

The state comes from the newest result of each probing location
(`queries.latest_by_location`): up when every location's newest check was
good, down when none was, degraded in between, unknown without results.
Uptime over 24 h, 7 d, 30 d and 90 d comes from the rollups, computed as
everywhere else (`probes.uptime`). Nothing about other URLs, locations' names
or error details is read: the page is public.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Annotated

from msgspec import Meta, Struct

from website_monitor.probes import queries
from website_monitor.probes.stats import StatsQuery, probe_stats
from website_monitor.probes.uptime import STATUS_WINDOWS, window_start
from website_monitor.store import Reader
from website_monitor.store.base import reading
from website_monitor.store.url import redact
from website_monitor.times import as_utc

STATES = ("up", "degraded", "down", "unknown")


class WindowUptime(Struct, kw_only=True):
    window: Annotated[str, Meta(description="24h, 7d, 30d or 90d")]
    uptime: Annotated[float | None, Meta(description="good checks over all checks; null: none")]
    checks: int


class CheckStatus(Struct, kw_only=True):
    url: Annotated[str, Meta(description="the check's URL, its secrets (password, token=…) masked")]
    state: Annotated[str, Meta(description="up, degraded, down or unknown")]
    checked_at: Annotated[str | None, Meta(description="the newest check, ISO 8601 UTC")]
    locations: Annotated[int, Meta(description="locations whose newest check counts")]
    failing_locations: int
    uptime: list[WindowUptime]


class PublicIncident(Struct, kw_only=True):
    """An open incident of a chosen check, as the public may see it."""

    url: str
    title: str
    started_at: Annotated[str, Meta(description="ISO 8601 UTC")]


class StatusDocument(Struct, kw_only=True):
    """What /status shows (and /status.json returns)."""

    generated_at: str
    state: Annotated[str, Meta(description="the worst state of the checks")]
    checks: list[CheckStatus]
    incidents: Annotated[
        list[PublicIncident] | None, Meta(description="open incidents; null: not recorded")
    ]


#: The open incidents of some URLs: provided by the alerting kind of data, when present.
IncidentSource = Callable[[Reader, Sequence[str]], Sequence[PublicIncident]]


def shown_url(url: str) -> str:
    """The URL with its secrets masked: a password, and a query's `token=`, `api_key=`…"""
    return redact(url)


def current_state(reader: Reader, url: str) -> tuple[str, str | None, int, int]:
    """(state, newest check time, locations, failing locations) of one URL."""
    newest = queries.latest_by_location(reader, url)
    if not newest:
        return "unknown", None, 0, 0
    failing = sum(1 for probe in newest if not probe.ok)
    if failing == 0:
        state = "up"
    elif failing == len(newest):
        state = "down"
    else:
        state = "degraded"
    checked = max(as_utc(probe.timestamp) for probe in newest).isoformat()
    return state, checked, len(newest), failing


def window_uptime(
    reader: Reader, urls: Sequence[str], seconds: int, now: datetime
) -> dict[str, tuple[float, int]]:
    """Per URL, (uptime, checks) over the `seconds` before `now`, from the rollups."""
    query = StatsQuery(urls=tuple(urls), since=window_start(seconds, now), source="rollups")
    # (`availability` is `probes.uptime.uptime` of the entry's counts)
    return {entry.url: (entry.availability, entry.probes) for entry in probe_stats(reader, query)}


def status_document(
    store: Reader,
    urls: Sequence[str],
    incidents: IncidentSource | None = None,
    now: datetime | None = None,
) -> StatusDocument:
    now = now or datetime.now(timezone.utc)
    with reading(store) as reader:
        windows = {
            label: window_uptime(reader, urls, seconds, now) for label, seconds in STATUS_WINDOWS
        }
        checks = []
        for url in urls:
            state, checked, locations, failing = current_state(reader, url)
            checks.append(
                CheckStatus(
                    url=shown_url(url),
                    state=state,
                    checked_at=checked,
                    locations=locations,
                    failing_locations=failing,
                    uptime=[
                        WindowUptime(
                            window=label,
                            uptime=windows[label][url][0] if url in windows[label] else None,
                            checks=windows[label].get(url, (0.0, 0))[1],
                        )
                        for label, _ in STATUS_WINDOWS
                    ],
                )
            )
        shown = list(incidents(reader, urls)) if incidents is not None else None
    for incident in shown or ():
        incident.url = shown_url(incident.url)
    states = {check.state for check in checks}
    overall = next((s for s in ("down", "degraded", "unknown") if s in states), "up")
    return StatusDocument(
        generated_at=now.isoformat(), state=overall, checks=checks, incidents=shown
    )
