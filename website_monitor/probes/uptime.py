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
#: The longest window a badge may ask for.
MAX_WINDOW = 366 * 86_400


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
    """A window such as 24h, 7d, 30d: whole seconds, at least an hour, at most 366 days."""
    from website_monitor.config import parse_duration

    try:
        seconds = int(parse_duration(text))
    except ConfigError as exc:
        raise ConfigError(f"window: {exc.message}", hint="e.g. 24h, 7d, 30d, 90d") from None
    if not 3600 <= seconds <= MAX_WINDOW:
        raise ConfigError(f"window {text!r} must be between 1h and 366d", hint="e.g. 7d, 30d")
    return seconds


def window_start(seconds: int, now: datetime | None = None) -> datetime:
    return (now or datetime.now(timezone.utc)) - timedelta(seconds=seconds)


def label(seconds: int) -> str:
    """A window as written: 24h, 7d, 90d, 36h."""
    if seconds % 86_400 == 0 and seconds != 86_400:
        return f"{seconds // 86_400}d"
    if seconds % 3_600 == 0:
        return f"{seconds // 3_600}h"
    return f"{seconds}s"
