"""The access-log monitor: lines in; summaries, alerts and hits out.

`Monitor` is driven by its caller with explicit times (`feed`, `tick`,
`finish`), so it is deterministic under test; `run` is the loop `wm tail`
uses: poll the follower, feed, tick, publish hits in batches, sleep.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from website_monitor import collector, log
from website_monitor.codec import LATEST, new_event_id
from website_monitor.errors import ConfigError
from website_monitor.logs.alerts import AlertEvent, HighTrafficAlert
from website_monitor.logs.codec import (
    MAX_NAME_LENGTH,
    MAX_PATH_LENGTH,
    MAX_USER_AGENT,
    Hit,
    new_hit,
)
from website_monitor.logs.follower import Chunk, Follower
from website_monitor.logs.formats import FORMATS, LineParser, LogRecord, path_keys
from website_monitor.logs.ship import Shipper
from website_monitor.logs.summary import WindowSummary
from website_monitor.logs.windows import Windows

if TYPE_CHECKING:
    from website_monitor.logs import publish

logger = log.get("tail")

#: The offsets of lines whose position is not kept.
_NO_OFFSETS = itertools.repeat(-1)
#: The last time a hit may have (`codec.LATEST` excluded).
_LAST_SECOND = math.nextafter(LATEST.timestamp(), 0.0)

CLOCKS = ("log", "wall")


@dataclasses.dataclass(frozen=True)
class TailOptions:
    """How `wm tail` reads and judges traffic. Durations in seconds."""

    fmt: str = "auto"
    interval: float = 10.0
    lateness: float = 5.0
    alert_window: float = 120.0
    threshold: float = 10.0
    hysteresis: float = 0.1
    clock: str = "log"
    top: int = 5
    #: Incorrect lines shown per window; the rest are only counted.
    bad_lines_shown: int = 5
    #: With the log clock, a line stamped further than this ahead of the wall clock is
    #: incorrect: one bogus future timestamp would otherwise close every window until then.
    max_future: float = 3600.0

    def check(self) -> None:
        if self.fmt not in FORMATS:
            raise ConfigError(f"unknown log format {self.fmt!r}", hint="use " + "|".join(FORMATS))
        if self.clock not in CLOCKS:
            raise ConfigError(f"unknown clock {self.clock!r}", hint="use log or wall")
        for name in ("interval", "alert_window", "threshold"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"--{name.replace('_', '-')} must be positive")
        if not (math.isfinite(self.lateness) and self.lateness >= 0):
            raise ConfigError("--lateness must not be negative")
        if not 0 <= self.hysteresis < 1:
            raise ConfigError("--hysteresis must be at least 0 and below 1", hint="e.g. 0.1")
        if self.top < 1:
            raise ConfigError("--top must be at least 1")


class Reporter(Protocol):
    """Where the monitor's output goes."""

    def summary(self, summary: WindowSummary) -> None: ...

    def alert(self, event: AlertEvent) -> None: ...

    def bad_line(self, line: str) -> None: ...


def _clean(text: str, limit: int) -> str:
    """Fit for any store: no NUL, bounded length."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    return text[:limit]


def source_name(source: str) -> str:
    """The `source` a hit stores: fit for any store, "-" for none (as `hit_from_record`
    writes it, a hit at a time)."""
    return _clean(source, MAX_NAME_LENGTH) or "-"


def bounded_fields(
    record: LogRecord,
) -> tuple[str, str, str | None, str, str | None, str | None]:
    """A record's path, host, user, method, referer and agent fit for any store: no NUL,
    bounded lengths (checked in one condition first: they almost always are)."""
    _, host, user, method, path, _, _, referer, agent = record
    if not (
        len(path) > MAX_PATH_LENGTH
        or len(host) > MAX_NAME_LENGTH
        or len(method) > 64
        or (user is not None and len(user) > MAX_NAME_LENGTH)
        or (referer is not None and len(referer) > MAX_PATH_LENGTH)
        or (agent is not None and len(agent) > MAX_USER_AGENT)
        or "\x00" in path
        or "\x00" in host
        or "\x00" in method
        or (user is not None and "\x00" in user)
        or (referer is not None and "\x00" in referer)
        or (agent is not None and "\x00" in agent)
    ):
        return path, host, user, method, referer, agent
    path, host, method = (
        _clean(path, MAX_PATH_LENGTH),
        _clean(host, MAX_NAME_LENGTH),
        _clean(method, 64),
    )
    user = _clean(user, MAX_NAME_LENGTH) if user else user
    referer = None if referer is None else _clean(referer, MAX_PATH_LENGTH)
    agent = None if agent is None else _clean(agent, MAX_USER_AGENT)
    return path, host, user, method, referer, agent


def bounded_already(columns: Sequence[Sequence[Any]]) -> bool:
    """Whether `bounded_fields` would keep every value of these records as it is, but for
    NULs (looked for in what is written of them). `columns`: the records transposed
    (`zip(*records)`), so each bound is one pass over a column."""
    _, hosts, users, methods, paths, _, sizes, referers, agents = columns
    return (
        max(map(len, paths)) <= MAX_PATH_LENGTH
        and max(map(len, hosts)) <= MAX_NAME_LENGTH
        and max(map(len, methods)) <= 64
        and max(map(len, filter(None, users)), default=0) <= MAX_NAME_LENGTH
        and max(map(len, filter(None, referers)), default=0) <= MAX_PATH_LENGTH
        and max(map(len, filter(None, agents)), default=0) <= MAX_USER_AGENT
        and max(sizes) < 2**63
    )


#: A parsed line kept for publishing: the record, and where it was read (the file's
#: fingerprint and the line's offset; None for standard input).
Collected = tuple[LogRecord, str | None, int]


def hit_from_record(record: LogRecord, source: str, event_id: str | None = None) -> Hit:
    """The hit of a parsed line; a new random id unless `event_id`.

    Values fit for any store (`bounded_fields`), and the Hit built by `codec.new_hit`
    (every line published goes through here when there is no broker). Lines come in time
    order: the time last converted is kept.
    """
    path, host, user, method, referer, agent = bounded_fields(record)
    if len(source) > MAX_NAME_LENGTH or "\x00" in source:
        source = _clean(source, MAX_NAME_LENGTH)
    seconds, moment = _last_moment[0]
    if record.timestamp != seconds:
        seconds = record.timestamp
        moment = datetime.fromtimestamp(seconds, timezone.utc)
        _last_moment[0] = (seconds, moment)  # (one tuple, replaced whole: safe on any thread)
    return new_hit(
        moment,
        source or "-",
        host or "-",
        user or None,
        method or "-",
        path or "-",
        (path_keys(path)[0] or "-") if path else "-",
        record.status,
        min(record.bytes, 2**63 - 1),
        new_event_id() if event_id is None else event_id,
        referer,
        agent,
    )


#: The time `hit_from_record` last converted: (seconds, datetime).
_last_moment: list[tuple[float, datetime]] = [(0.0, datetime.fromtimestamp(0, timezone.utc))]


@dataclasses.dataclass
class _FileState:
    """What the monitor keeps per file read: its parser, and the time of its last line."""

    parser: LineParser
    last: float | None = None


class Monitor:
    """Parses lines per source, windows them, summarises, alerts, and collects hits."""

    def __init__(
        self, options: TailOptions, reporter: Reporter, *, collect_hits: bool = False
    ) -> None:
        options.check()
        self.options = options
        self.reporter = reporter
        self.wall = options.clock == "wall"
        self.windows = Windows(
            options.interval,
            0.0 if self.wall else options.lateness,
            max_empty_run=math.ceil(options.alert_window / options.interval) + 1,
            top=options.top,
        )
        self.alert = HighTrafficAlert(options.threshold, options.alert_window, options.hysteresis)
        self.files: dict[str, _FileState] = {}
        self.collect_hits = collect_hits
        self.records: list[Collected] = []
        self.bad_shown = 0
        self.bad_shown_since = -math.inf
        self.lines = 0
        self.bad = 0
        self.summaries = 0

    def feed(self, chunk: Chunk, now: float) -> None:
        """Lines of one source that arrived at wall time `now`.

        Every parsed line is kept for publishing, late or not: the store is not windowed.
        An incorrect line counts in the window of the line before it in its file (with the
        wall clock, of its arrival): it has no time of its own, a log is written in time
        order, and so it stays where it is in the file however fast the file is read.
        """
        key = chunk.key
        state = self.files.get(key)
        if state is None:
            state = self.files[key] = _FileState(LineParser(self.options.fmt))
        elif chunk.reset:
            state.parser.reset()
        parser = state.parser
        add = self.windows.add
        wall = self.wall
        # Past that, or before 1970, a time is no hit's: a store keeps 1970 to 9000
        # (`codec.LATEST`), and a hits message with one such row would be refused whole.
        future = min(math.inf if wall else now + self.options.max_future, _LAST_SECOND)
        collect = self.records.append if self.collect_hits else None
        fingerprint = chunk.fingerprint
        offsets: Iterable[int] = _NO_OFFSETS
        if collect is not None and chunk.offsets is not None:
            offsets = chunk.offsets
        last = state.last
        parsed = 0
        for line, offset in zip(chunk.lines, offsets, strict=False):  # (repeat: endless)
            record = parser.parse_line(line)
            if record is None:
                if not line.strip() or parser.is_directive(line):
                    continue
                self._bad(line, now if wall else last)
                continue
            timestamp = record.timestamp
            if not 0.0 <= timestamp <= future:
                self._bad(line, now if wall else last)
                continue
            parsed += 1
            if collect is not None:
                collect((record, fingerprint, offset))
            add(record, now if wall else timestamp, now)
            last = timestamp
        self.lines += parsed
        state.last = last
        if chunk.done:
            del self.files[key]

    def _bad(self, line: str, timestamp: float | None) -> None:
        self.bad += 1
        self.windows.add_bad(timestamp)
        if self.bad_shown < self.options.bad_lines_shown:
            self.bad_shown += 1
            self.reporter.bad_line(line[:1000])

    def tick(self, now: float) -> None:
        """Close the windows that wall time `now` completes; report summaries and alerts."""
        if now - self.bad_shown_since >= self.options.interval:
            # Incorrect lines are shown at most `bad_lines_shown` per window or per interval
            # of wall time, whichever comes first (no window closes if no line parses).
            self.bad_shown = 0
            self.bad_shown_since = now
        for summary in self.windows.advance(now):
            self._report(summary)

    def finish(self) -> None:
        """End of input: report every window that saw traffic."""
        for summary in self.windows.close_all():
            self._report(summary)

    def _report(self, summary: WindowSummary) -> None:
        self.summaries += 1
        self.bad_shown = 0
        self.reporter.summary(summary)
        event = self.alert.observe(summary.end, summary.hits)
        if event is not None:
            self.reporter.alert(event)

    def take_records(self) -> list[Collected]:
        records, self.records = self.records, []
        return records


def check_readable(follower: Follower, *, exit_at_eof: bool) -> None:
    """With `exit_at_eof`, fail when no source can be read: there would be nothing to do.

    Following, a missing file is waited for instead.
    """
    problems = follower.problems()
    if not exit_at_eof or not problems or len(problems) < len(follower.sources):
        return
    missing = "; ".join(f"{path}: {reason}" for path, reason in problems)
    raise ConfigError(
        f"cannot read {missing}",
        hint="check the path; without --exit-at-eof wm tail waits for the file to appear",
    )


def run(
    follower: Follower,
    monitor: Monitor,
    stop: threading.Event,
    *,
    exit_at_eof: bool = False,
    poll_interval: float = 0.25,
    publisher: publish.HitPublisher | None = None,
    publish_every: float = 1.0,
    clock: Callable[[], float] = time.time,
    shipper: Shipper | None = None,
) -> None:
    """Follow until `stop` is set, standard input ends, or (with `exit_at_eof`) all is read.

    At the end, unterminated last lines are read and every window that saw
    traffic is reported, so processing a file with `exit_at_eof` reports all of it.
    With a `shipper`, raw lines are also queued for it (the caller closes it).
    Raises ConfigError, before reading anything, if `exit_at_eof` and no file can be read.
    """
    check_readable(follower, exit_at_eof=exit_at_eof)
    collector.pace_for_throughput()
    last_publish = clock()
    only_streams = bool(follower.sources) and not any(
        source.path != "-" for source in follower.sources
    )
    while not stop.is_set():
        chunks = follower.poll()
        now = clock()
        for chunk in chunks:
            monitor.feed(chunk, now)
            if shipper is not None:
                shipper.add(chunk.key, chunk.lines, chunk.reset)
        monitor.tick(now)
        if shipper is not None:
            shipper.pump()
        if publisher is not None and (
            len(monitor.records) >= publisher.batch_size or now - last_publish >= publish_every
        ):
            publisher.publish(monitor.take_records())
            last_publish = now
        idle = not any(chunk.lines for chunk in chunks)
        if idle and follower.streams_done and (exit_at_eof or only_streams):
            break
        if idle:
            stop.wait(poll_interval)
    now = clock()
    for chunk in follower.poll(final=True):
        monitor.feed(chunk, now)
        if shipper is not None:
            shipper.add(chunk.key, chunk.lines, chunk.reset)
    monitor.finish()
    if publisher is not None:
        publisher.publish(monitor.take_records())
        publisher.finish()
