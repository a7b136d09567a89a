"""Access-log line formats: Common Log Format, Combined, W3C extended.

Parsing is the hot path of `wm tail`, so it uses `str.split`/`str.find` and a
hand-rolled timestamp parser with cached month starts and time-zone offsets
instead of regular expressions and `datetime.strptime` (about ten times
slower). A line either parses into a `LogRecord` or the parser returns None;
no exception escapes for any input.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from typing import NamedTuple

FORMATS = ("auto", "clf", "combined", "w3c")

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}


class LogRecord(NamedTuple):
    """One request from an access log. `timestamp` is seconds since the epoch (UTC)."""

    timestamp: float
    remote_host: str
    user: str | None
    method: str
    path: str
    status: int
    bytes: int
    referer: str | None = None
    user_agent: str | None = None


def section_of(path: str) -> str:
    """`/` plus the first path segment: `/api/user?id=1` → `/api`, `/` → `/`.

    An absolute URI (a proxy request) counts by its path; anything that is not
    a path (`*`, `-`) is its own section.
    """
    if path[:1] != "/":
        scheme = path.find("://")
        if scheme < 0:
            return path
        slash = path.find("/", scheme + 3)
        if slash < 0:
            return "/"
        path = path[slash:]
    end = len(path)
    for stop in ("/", "?", "#"):
        found = path.find(stop, 1)
        if 0 < found < end:
            end = found
    return path[:end]


_path_keys: dict[str, tuple[str, str]] = {}


def path_keys(path: str) -> tuple[str, str]:
    """`(section_of(path), endpoint_of(path))`, cached: paths repeat a lot."""
    keys = _path_keys.get(path)
    if keys is None:
        keys = (section_of(path), endpoint_of(path))
        if len(_path_keys) >= 65536:
            _path_keys.clear()
        _path_keys[path] = keys
    return keys


def endpoint_of(path: str) -> str:
    """The path without its query string."""
    query = path.find("?")
    return path if query < 0 else path[:query]


# --- timestamps ---------------------------------------------------------------------------

_month_starts: dict[tuple[int, int], int] = {}
#: Recently parsed timestamps: consecutive lines mostly share their second.
_clf_times: dict[str, float] = {}
_CACHE_SIZE = 4096
_days_in_month: dict[tuple[int, int], int] = {}
_tz_offsets: dict[str, int] = {}


def _month_start(year: int, month: int) -> int:
    key = (year, month)
    start = _month_starts.get(key)
    if start is None:
        if not 1 <= year <= 9999:
            raise ValueError("year out of range")
        start = calendar.timegm((year, month, 1, 0, 0, 0, 0, 0, 0))
        _month_starts[key] = start
        _days_in_month[key] = calendar.monthrange(year, month)[1]
    return start


def _tz_offset(text: str) -> int:
    offset = _tz_offsets.get(text)
    if offset is None:
        if len(text) != 5 or text[0] not in "+-" or not text[1:].isdigit():
            raise ValueError("bad time zone")
        hours, minutes = int(text[1:3]), int(text[3:5])
        if hours > 23 or minutes > 59:
            raise ValueError("bad time zone")
        offset = (hours * 3600 + minutes * 60) * (1 if text[0] == "+" else -1)
        if len(_tz_offsets) < 1024:
            _tz_offsets[text] = offset
    return offset


def _epoch(year: int, month: int, day: int, hour: int, minute: int, second: int) -> int:
    start = _month_start(year, month)
    if not 1 <= day <= _days_in_month[(year, month)]:
        raise ValueError("day out of range")
    if hour > 23 or minute > 59 or second > 60 or hour < 0 or minute < 0 or second < 0:
        raise ValueError("time out of range")
    return start + (day - 1) * 86400 + hour * 3600 + minute * 60 + second


def parse_clf_time(text: str) -> float:
    """`09/May/2018:16:00:39 +0000` → seconds since the epoch; ValueError if malformed."""
    if (
        len(text) != 26
        or text[2] != "/"
        or text[6] != "/"
        or text[11] != ":"
        or text[14] != ":"
        or text[17] != ":"
        or text[20] != " "
    ):
        raise ValueError("bad timestamp")
    month = _MONTHS[text[3:6]]
    local = _epoch(
        int(text[7:11]), month, int(text[0:2]), int(text[12:14]), int(text[15:17]), int(text[18:20])
    )
    return float(local - _tz_offset(text[21:26]))


def parse_w3c_time(date: str, time: str) -> float:
    """`2018-05-09` and `16:00:39` (UTC, fractions allowed) → seconds since the epoch."""
    if len(date) != 10 or date[4] != "-" or date[7] != "-" or len(time) < 8:
        raise ValueError("bad date")
    if time[2] != ":" or time[5] != ":":
        raise ValueError("bad time")
    fraction = 0.0
    if len(time) > 8:
        if time[8] != "." or not time[9:].isdigit():
            raise ValueError("bad time")
        fraction = float("0" + time[8:])
    whole = _epoch(
        int(date[0:4]), int(date[5:7]), int(date[8:10]), int(time[0:2]), int(time[3:5]),
        int(time[6:8]),
    )  # fmt: skip
    return whole + fraction


def _digits(text: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise ValueError("not a number")
    return int(text)


def _size(text: str) -> int:
    return 0 if text == "-" else _digits(text)


def _status(text: str) -> int:
    if len(text) != 3:
        raise ValueError("bad status")
    status = _digits(text)
    if status < 100:
        raise ValueError("bad status")
    return status


# --- NCSA: Common and Combined -----------------------------------------------------------


def parse_ncsa(line: str, *, combined: bool | None = None) -> LogRecord | None:
    """A Common or Combined Log Format line, or None.

    `combined=True` requires the referer and user agent, `False` forbids
    anything after the size, None accepts both.
    """
    try:
        host, _ident, user, rest = line.split(" ", 3)
        if not host:
            return None
        if rest[:1] != "[":
            # Some servers log user names with spaces: the timestamp bracket ends them.
            open_ = rest.find(" [")
            if open_ < 0:
                return None
            user = user + " " + rest[:open_]
            rest = rest[open_ + 1 :]
        if rest[27:29] != "] ":
            return None
        stamp = rest[1:27]
        timestamp = _clf_times.get(stamp)
        if timestamp is None:
            timestamp = parse_clf_time(stamp)
            if len(_clf_times) >= _CACHE_SIZE:
                _clf_times.clear()
            _clf_times[stamp] = timestamp
        if rest[29:30] != '"':
            return None
        end = rest.find('" ', 30)
        if end < 0:
            return None
        request = rest[30:end].split(" ")
        if 2 <= len(request) <= 3 and request[0] and request[1]:
            method, path = request[0], request[1]
        else:  # a request line the server could not read
            method = path = "-"
        fields = rest[end + 2 :].split(" ", 2)
        text = fields[0]
        if len(text) != 3 or not text.isdigit():
            return None
        status = int(text)
        if status < 100:
            return None
        text = fields[1] if len(fields) == 3 else fields[1].rstrip("\r\n")
        if text == "-":
            size = 0
        elif text.isdigit():
            size = int(text)
        else:
            return None
        referer = agent = None
        if len(fields) == 3 and fields[2].strip():
            if combined is False:
                return None
            extra = fields[2].rstrip("\r\n")
            if extra[:1] != '"':
                return None
            ref_end = extra.find('" "', 1)
            if ref_end < 0 or extra[-1:] != '"' or len(extra) < ref_end + 4:
                return None
            referer = extra[1:ref_end]
            agent = extra[ref_end + 3 : -1]
        elif combined:
            return None
        return LogRecord(
            timestamp,
            host,
            None if user == "-" else user,
            method,
            path,
            status,
            size,
            referer,
            agent,
        )
    except (ValueError, KeyError, IndexError):
        return None


# --- W3C extended ------------------------------------------------------------------------

_W3C_REQUIRED = ("date", "time", "sc-status")


class W3CFields:
    """The column layout a `#Fields:` directive declares."""

    def __init__(self, directive: str) -> None:
        names = directive.split(":", 1)[1].split()
        self.names = names
        self.count = len(names)
        index = {name.lower(): i for i, name in enumerate(names)}
        missing = [n for n in _W3C_REQUIRED if n not in index]
        if missing or ("cs-uri-stem" not in index and "cs-uri" not in index):
            raise ValueError("#Fields lacks " + ", ".join(missing or ["cs-uri-stem"]))
        self.date = index["date"]
        self.time = index["time"]
        self.status = index["sc-status"]
        self.stem = index.get("cs-uri-stem", index.get("cs-uri", -1))
        self.query = index.get("cs-uri-query", -1)
        self.host = index.get("c-ip", index.get("c-dns", -1))
        self.user = index.get("cs-username", -1)
        self.method = index.get("cs-method", -1)
        self.bytes = index.get("sc-bytes", -1)
        self.referer = index.get("cs(referer)", -1)
        self.agent = index.get("cs(user-agent)", -1)

    def parse(self, line: str) -> LogRecord | None:
        values = line.split()
        if len(values) != self.count:
            return None
        try:
            path = values[self.stem]
            if self.query >= 0 and values[self.query] != "-":
                path = path + "?" + values[self.query]
            return LogRecord(
                parse_w3c_time(values[self.date], values[self.time]),
                values[self.host] if self.host >= 0 else "-",
                _w3c_optional(values, self.user),
                values[self.method] if self.method >= 0 else "-",
                path,
                _status(values[self.status]),
                _size(values[self.bytes]) if self.bytes >= 0 else 0,
                _w3c_optional(values, self.referer),
                _w3c_optional(values, self.agent),
            )
        except (ValueError, KeyError, IndexError):
            return None


def _w3c_optional(values: list[str], index: int) -> str | None:
    if index < 0 or values[index] == "-":
        return None
    return values[index].replace("+", " ")


# --- one parser per source ---------------------------------------------------------------


class LineParser:
    """Parses the lines of one source in a fixed or auto-detected format.

    `auto` detects from the first lines: a `#` directive means W3C extended,
    otherwise NCSA (Common or Combined, told apart by the referer and user
    agent fields; both are then accepted). In W3C, each `#Fields:` directive
    (re)declares the columns, as servers do after a restart. Directives are not
    requests: `parse` returns None and `is_directive` says so. `parse_line` is
    the fastest function for the current state (the hot path calls it).
    """

    def __init__(self, fmt: str = "auto") -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown log format {fmt!r}")
        self.requested = fmt
        self.detected: str | None = None if fmt == "auto" else fmt
        self.fields: W3CFields | None = None
        self.parse_line: Callable[[str], LogRecord | None] = self.parse

    def reset(self) -> None:
        """A new file started (rotation, truncation): detect and read its header again."""
        if self.requested == "auto":
            self.detected = None
        self.fields = None
        self.parse_line = self.parse

    def is_directive(self, line: str) -> bool:
        return line[:1] == "#" and self.detected in (None, "w3c")

    def parse(self, line: str) -> LogRecord | None:
        detected = self.detected
        if detected == "combined" or detected == "clf":
            if self.requested == "auto":
                return parse_ncsa(line)
            return parse_ncsa(line, combined=detected == "combined")
        if line[:1] == "#" and detected in (None, "w3c"):
            self._directive(line)
            return None
        if detected == "w3c":
            return self.fields.parse(line) if self.fields is not None else None
        record = parse_ncsa(line)
        if record is not None:
            self.detected = "combined" if record.user_agent is not None else "clf"
            self.parse_line = parse_ncsa
        return record

    def _directive(self, line: str) -> None:
        self.detected = "w3c"
        if line[:8].lower() == "#fields:":
            try:
                self.fields = W3CFields(line.rstrip("\r\n"))
            except ValueError:
                self.fields = None


def detect_format(lines: list[str]) -> str | None:
    """The format of the first lines of a log, or None if none of them is recognised."""
    parser = LineParser("auto")
    for line in lines:
        parser.parse(line)
        if parser.detected is not None:
            return parser.detected
    return None
