"""Values as people write them: durations (`30s`), times (`1h` ago, ISO 8601), lists.

Shared by the configuration layer, the command line and the web API's query
parameters, so `30s` means the same everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

from website_monitor.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
DURATION_HINT = "use a number with a unit, e.g. 500ms, 30s, 5m, 1h, 7d"

#: The longest duration accepted anywhere; past it times overflow the platform's clock.
MAX_DURATION = 100 * 365 * 86400.0


def parse_duration(value: str | float | int) -> float:
    """Seconds in a duration like `30s`, `5m`, `1h`, `7d`, `500ms` or a bare number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ConfigError(f"invalid duration {value!r}", hint=DURATION_HINT)
        number, unit = match.groups()
        seconds = float(number) * _UNIT_SECONDS[unit or "s"]
    if not 0 <= seconds <= MAX_DURATION:  # also rejects inf and nan
        raise ConfigError(f"duration {value!r} is out of range", hint="at most 100 years")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest way to write `seconds` that `parse_duration` reads back exactly:
    3600 is `1h`, 0.25 is `250ms`, 90 is `90s`."""
    for unit in ("w", "d", "h", "m", "s"):
        count = seconds / _UNIT_SECONDS[unit]
        if count >= 1 and count == int(count):
            return f"{int(count)}{unit}"
    milliseconds = seconds * 1000
    if milliseconds == int(milliseconds):
        return f"{int(milliseconds)}ms"
    return f"{seconds:g}s"


def parse_time(value: str, now: datetime | None = None) -> datetime:
    """A point in time: ISO 8601 (naive means UTC) or a duration ago (`1h`, `7d`)."""
    now = now or datetime.now(timezone.utc)
    if _DURATION.match(value):
        try:
            return now - timedelta(seconds=parse_duration(value))
        except OverflowError:
            raise ConfigError(
                f"time {value!r} is before year 1", hint="give a shorter age"
            ) from None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise ConfigError(
            f"invalid time {value!r}", hint="use ISO 8601 (2026-11-23T10:00:00Z) or an age (1h, 7d)"
        ) from None


def parse_range(
    since: str | None, until: str | None, now: datetime | None = None
) -> tuple[datetime | None, datetime | None]:
    """`--since` and `--until` (either may be absent), read against one `now`; a range that
    holds nothing (`--since 1h --until 2h`) is an error rather than an empty answer."""
    now = now or datetime.now(timezone.utc)
    start = parse_time(since, now) if since else None
    end = parse_time(until, now) if until else None
    if start is not None and end is not None and start >= end:
        raise ConfigError(
            f"--since {since} ({start:%Y-%m-%dT%H:%M:%SZ}) is not before"
            f" --until {until} ({end:%Y-%m-%dT%H:%M:%SZ}): the range is empty",
            hint="--since is the older end: e.g. --since 2h --until 1h",
        )
    return start, end


_SEPARATORS = re.compile(r"[,\s]+")
#: Whitespace, or a comma that starts a new URL: a comma inside a URL stays.
_URL_SEPARATORS = re.compile(r"\s+|\s*,\s*(?=[A-Za-z][A-Za-z0-9+.-]*://)")


def split_list(values: str | Iterable[str], *, urls: bool = False) -> tuple[str, ...]:
    """Split values given as one string or many, separated by whitespace or commas.

    With `urls`, only a comma followed by `scheme://` separates, so
    `http://a/x,y` stays whole while `http://a,http://b` splits.
    """
    pattern = _URL_SEPARATORS if urls else _SEPARATORS
    items = [values] if isinstance(values, str) else list(values)
    out: list[str] = []
    for item in items:
        out.extend(part for part in pattern.split(str(item)) if part)
    return tuple(out)


def split_lines(value: str | Iterable[str]) -> tuple[str, ...]:
    """Values that hold blanks and commas (`--expect` conditions): a list item by item, one
    string one item per line; blank items dropped."""
    items = value.splitlines() if isinstance(value, str) else [str(item) for item in value]
    return tuple(item.strip() for item in items if item.strip())


def split_paths(value: str | Iterable[str]) -> tuple[str, ...]:
    """File paths: a list is taken item by item (a path may hold commas and spaces); one
    string is split on whitespace, as click splits an environment variable."""
    if isinstance(value, str):
        return tuple(value.split())
    return tuple(str(item) for item in value)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_bool(value: object) -> bool:
    """A switch from a file or the environment: true/false, yes/no, on/off, 1/0."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ValueError(f"expected true or false, got {value!r}")
