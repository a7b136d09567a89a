"""Uptime, defined once: good checks over all checks in a window.

A good check is one stored with `ok` true (the verdict of `wm probe`: an
answer that met every expectation); every other check, a failed request, an
unhealthy status, an expiring certificate or a failed condition, counts
against it. `wm stats` (`availability`), the series, `wm top`, the status page
and the badges all compute it here, from the same counts: exact counts from the
raw rows or from the rollups (whose counts are exact too), so the figure is the
same whichever answers.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from website_monitor.errors import ConfigError

#: The SQL that counts good checks among the rows of a group.
GOOD_CHECKS_SQL = "sum(CASE WHEN ok THEN 1 ELSE 0 END)"
#: Windows the status page shows, as (label, seconds).
STATUS_WINDOWS = (("24h", 86_400), ("7d", 7 * 86_400), ("30d", 30 * 86_400), ("90d", 90 * 86_400))
#: The windows a badge may ask for. A fixed few: the badges are public, and each window
#: is a cached answer, so any length at all would let anyone turn every request into a
#: fresh read of the store and push everyone else's answers out of the cache.
BADGE_WINDOWS = (
    "1h",
    "6h",
    "12h",
    "24h",
    "36h",
    "48h",
    "7d",
    "14d",
    "30d",
    "60d",
    "90d",
    "180d",
    "365d",
)


def uptime(good: int, checks: int) -> float:
    """The share of good checks, rounded to 6 decimals (0 when there were no checks)."""
    if checks <= 0:
        return 0.0
    return round(good / checks, 6)


def percent(value: float) -> str:
    """An uptime as shown on the page and badges: a percentage truncated (never rounded up) to
    two decimals, so 99.996 % shows as 99.99 %, not 100 %."""
    hundredths = int(value * 10_000 + 1e-9)
    text = f"{hundredths // 100}.{hundredths % 100:02d}".rstrip("0").rstrip(".")
    return f"{text}%"


def window_seconds(text: str) -> int:
    """A badge's window, one of BADGE_WINDOWS however written (1d is 24h), in seconds."""
    from website_monitor.config import parse_duration

    allowed = ", ".join(BADGE_WINDOWS)
    shown = text if len(text) <= 20 else f"{text[:20]}…"
    try:
        seconds = parse_duration(text)
    except ConfigError:
        raise ConfigError(f"window {shown!r} is not a duration", hint=f"one of {allowed}") from None
    if seconds not in _BADGE_SECONDS:
        raise ConfigError(f"window {shown!r} is not one of {allowed}", hint="e.g. 7d, 30d")
    return int(seconds)


_BADGE_SECONDS = frozenset(
    int(window[:-1]) * (3600 if window.endswith("h") else 86_400) for window in BADGE_WINDOWS
)


def window_start(seconds: int, now: datetime | None = None) -> datetime:
    return (now or datetime.now(timezone.utc)) - timedelta(seconds=seconds)


def label(seconds: int) -> str:
    """A window as written: 24h, 7d, 90d, 36h."""
    if seconds % 86_400 == 0 and seconds != 86_400:
        return f"{seconds // 86_400}d"
    if seconds % 3_600 == 0:
        return f"{seconds // 3_600}h"
    return f"{seconds}s"
