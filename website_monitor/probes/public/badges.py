"""Badges: a check's status, uptime or p95 as a small SVG, or as shields.io's endpoint JSON.

The numbers are those of `wm stats` over the same window: uptime as
`probes.uptime` defines it (shown truncated to two decimals, so it never
rounds up to 100 %), p95 as `wm stats` computes it (exact up to 100,000
probes, else from the rollups); the status as on the status page.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from html import escape

from msgspec import Struct

from website_monitor.probes.public.status import current_state
from website_monitor.probes.stats import StatsQuery, probe_stats
from website_monitor.probes.uptime import label, percent, window_start
from website_monitor.store import Reader
from website_monitor.store.base import reading

#: shields.io's named colours, and the hex values the SVG uses for them.
COLORS = {
    "brightgreen": "#4c1",
    "green": "#97ca00",
    "yellow": "#dfb317",
    "orange": "#fe7d37",
    "red": "#e05d44",
    "lightgrey": "#9f9f9f",
}
STATE_COLORS = {"up": "brightgreen", "degraded": "yellow", "down": "red", "unknown": "lightgrey"}


@dataclasses.dataclass(frozen=True)
class Badge:
    label: str
    message: str
    color: str  # a key of COLORS


class ShieldsEndpoint(Struct):
    """shields.io's endpoint badge format (https://shields.io/badges/endpoint-badge)."""

    schemaVersion: int
    label: str
    message: str
    color: str


def status_badge(store: Reader, url: str) -> Badge:
    with reading(store) as reader:
        state = current_state(reader, url)[0]
    return Badge("status", state, STATE_COLORS[state])


def uptime_badge(store: Reader, url: str, seconds: int, now: datetime | None = None) -> Badge:
    since = window_start(seconds, now or datetime.now(timezone.utc))
    entries = probe_stats(store, StatsQuery(urls=(url,), since=since, source="rollups"))
    name = f"uptime {label(seconds)}"
    if not entries:
        return Badge(name, "no data", "lightgrey")
    value = entries[0].availability
    return Badge(name, percent(value), uptime_color(value))


def p95_badge(store: Reader, url: str, seconds: int, now: datetime | None = None) -> Badge:
    since = window_start(seconds, now or datetime.now(timezone.utc))
    entries = probe_stats(store, StatsQuery(urls=(url,), since=since))
    name = f"p95 {label(seconds)}"
    p95 = entries[0].p95_ms if entries else None
    if p95 is None:
        return Badge(name, "no data", "lightgrey")
    return Badge(name, milliseconds(p95), latency_color(p95))


def uptime_color(value: float) -> str:
    for floor, color in (
        (0.999, "brightgreen"),
        (0.99, "green"),
        (0.95, "yellow"),
        (0.9, "orange"),
    ):
        if value >= floor:
            return color
    return "red"


def latency_color(ms: float) -> str:
    for ceiling, color in (
        (200, "brightgreen"),
        (500, "green"),
        (1000, "yellow"),
        (2000, "orange"),
    ):
        if ms < ceiling:
            return color
    return "red"


def milliseconds(ms: float) -> str:
    """123 ms, 1.23 s: whole milliseconds below a second."""
    if ms < 1000:
        return f"{round(ms)} ms"
    return f"{ms / 1000:.2f} s"


def endpoint_json(badge: Badge) -> ShieldsEndpoint:
    return ShieldsEndpoint(
        schemaVersion=1, label=badge.label, message=badge.message, color=badge.color
    )


# --- SVG ---------------------------------------------------------------------------------------

#: Approximate advance widths of Verdana at 11 px, the badges' font; others count as 7.
_NARROW = set("fijlrt.,:;!|'() ")
_WIDE = set("mwMW%@")


def text_width(text: str) -> float:
    return sum(3.5 if ch in _NARROW else 10.0 if ch in _WIDE else 6.8 for ch in text)


def svg(badge: Badge) -> str:
    """A flat badge: grey label, coloured message, text shadowed as shields.io draws it."""
    label_w = round(text_width(badge.label) + 10)
    message_w = round(text_width(badge.message) + 10)
    width = label_w + message_w
    fill = COLORS.get(badge.color, COLORS["lightgrey"])
    name, message = escape(badge.label), escape(badge.message)
    title = f"{name}: {message}"
    lx, mx = label_w / 2, label_w + message_w / 2
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img"'
        f' aria-label="{title}"><title>{title}</title>'
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb"'
        ' stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{label_w}" height="20" fill="#555"/>'
        f'<rect x="{label_w}" width="{message_w}" height="20" fill="{fill}"/>'
        f'<rect width="{width}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle"'
        ' font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{lx}" y="15" fill="#010101" fill-opacity=".3">{name}</text>'
        f'<text x="{lx}" y="14">{name}</text>'
        f'<text x="{mx}" y="15" fill="#010101" fill-opacity=".3">{message}</text>'
        f'<text x="{mx}" y="14">{message}</text></g></svg>'
    )
