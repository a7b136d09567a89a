"""`wm top`: a terminal view of the store that refreshes itself.

Per URL the last status, p50/p95 and availability over a recent window; below,
the access-log traffic (hits/s per source over the last minute, from the hits
table), the open high-traffic alerts, the newest results as they arrive and the
store's dead letters. Keys are read
in cbreak mode (`q` quits) and the terminal is restored on the way out.

Every value from the store (URLs, statuses, error texts, sources) is drawn as a
`Text` from `display.literal`, never as markup, with control characters escaped:
what a probed server or a log line says cannot break or restyle the view.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import select
import sys
import termios
import threading
import tty
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import IO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from website_monitor.deadletters import store as dead_letters
from website_monitor.display import literal
from website_monitor.errors import WebsiteMonitorError
from website_monitor.logs import queries as logs
from website_monitor.logs.models import Alert
from website_monitor.probes import queries as probes
from website_monitor.probes.models import Probe, StatsEntry
from website_monitor.probes.stats import StatsQuery, probe_stats
from website_monitor.store import Repository

RECENT = 8
#: The traffic line: hits stamped within this many seconds before now.
TRAFFIC_SECONDS = 60.0
#: Longest source name shown on the traffic and alert lines.
SOURCE_LONGEST = 60


@dataclasses.dataclass
class Row:
    """One URL: its figures over the window, and its latest result."""

    url: str
    stats: StatsEntry | None = None
    last: Probe | None = None


@dataclasses.dataclass
class Snapshot:
    taken_at: datetime
    window_seconds: float
    rows: list[Row]
    recent: list[Probe]
    dead_letters: int
    backend: str
    #: Hits per second per source over the last TRAFFIC_SECONDS.
    traffic: dict[str, float] = dataclasses.field(default_factory=dict)
    #: Alerts without an end, as `wm alerts` lists them.
    open_alerts: list[Alert] = dataclasses.field(default_factory=list)


def snapshot(repository: Repository, window_seconds: float) -> Snapshot:
    """What the view shows, read from the store in one go."""
    now = datetime.now(timezone.utc)
    entries = probe_stats(repository, StatsQuery(since=now - timedelta(seconds=window_seconds)))
    by_url = {entry.url: Row(entry.url, stats=entry) for entry in entries}
    for probe in probes.latest_per_url(repository):
        by_url.setdefault(probe.url, Row(probe.url)).last = probe
    return Snapshot(
        taken_at=now,
        window_seconds=window_seconds,
        rows=[by_url[url] for url in sorted(by_url)],
        recent=probes.newest_probes(repository, RECENT),
        dead_letters=dead_letters.count(repository),
        backend=repository.backend,
        traffic=logs.hits_per_second(repository, TRAFFIC_SECONDS, now),
        open_alerts=[a for a in logs.list_alerts(repository) if a.ended_at is None],
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _status(probe: Probe | None) -> Text:
    if probe is None:
        return Text("-")
    label = probe.http_status_code or probe.error or "error"
    return literal(label, "green" if probe.ok else "bold red", longest=40)


def _age(then: str | None, now: datetime) -> str:
    if then is None:
        return "-"
    seconds = int((now - datetime.fromisoformat(then)).total_seconds())
    if seconds < 120:
        return f"{max(seconds, 0)}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    if seconds < 172800:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 86400}d ago"


def _window(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def render(snap: Snapshot, error: str | None = None) -> RenderableType:
    urls = Table(
        title=literal(f"wm top · last {_window(snap.window_seconds)} · {snap.backend}"),
        title_justify="left",
        expand=True,
    )
    urls.add_column("URL", overflow="fold", ratio=3)
    urls.add_column("last", justify="center")
    urls.add_column("seen", justify="right")
    urls.add_column("probes", justify="right")
    urls.add_column("p50 ms", justify="right")
    urls.add_column("p95 ms", justify="right")
    urls.add_column("avail %", justify="right")
    for row in snap.rows:
        entry, last = row.stats, row.last
        availability = entry.availability if entry else None
        urls.add_row(
            literal(row.url),
            _status(last),
            Text(_age(last.timestamp if last else None, snap.taken_at)),
            Text(str(entry.probes) if entry else "0"),
            Text(_ms(entry.p50_ms if entry else None)),
            Text(_ms(entry.p95_ms if entry else None)),
            Text(
                "-" if availability is None else f"{availability * 100:.1f}",
                style="" if availability in (None, 1.0) else "red",
            ),
        )
    if not snap.rows:
        urls.add_row(Text("no probe results yet", style="dim"), "", "", "", "", "", "")

    recent = Table(title="last stored results", title_justify="left", expand=True, show_edge=False)
    recent.add_column("time")
    recent.add_column("URL", overflow="fold", ratio=3)
    recent.add_column("status", justify="center")
    recent.add_column("ms", justify="right")
    for probe in snap.recent:
        recent.add_row(
            literal(probe.timestamp[11:19]),
            literal(probe.url),
            _status(probe),
            Text(_ms(probe.response_time_ms)),
        )

    traffic = Text(f"traffic (last {_window(TRAFFIC_SECONDS)}): ", style="bold")
    for number, (source, rate) in enumerate(snap.traffic.items()):
        traffic.append(" · " if number else "")
        traffic.append_text(literal(source, longest=SOURCE_LONGEST))
        traffic.append(f" {rate:.2f} hits/s")
    if not snap.traffic:
        traffic.append("no hits", style="dim")
    alerts = Text("alerts: ", style="bold")
    for number, alert in enumerate(snap.open_alerts):
        alerts.append(" · " if number else "")
        alerts.append("OPEN ", style="bold red")
        alerts.append_text(literal(alert.source, "bold red", longest=SOURCE_LONGEST))
        alerts.append(
            f" since {(alert.started_at or '')[11:19]}Z"
            f" (peak {alert.peak:.2f} hits/s, threshold {alert.threshold:g})",
            style="bold red",
        )
    if not snap.open_alerts:
        alerts.append("none open", style="green")

    footer = Text()
    footer.append(f"dead letters: {snap.dead_letters}", style="red" if snap.dead_letters else "")
    footer.append(f" · refreshed {snap.taken_at:%H:%M:%S}Z · q quits")
    parts: list[RenderableType] = [urls, traffic, alerts, recent, footer]
    if error:
        parts.append(literal(error, "bold red", longest=None))
    return Group(*parts)


@contextlib.contextmanager
def cbreak(stream: IO[str]) -> Iterator[int | None]:
    """Put a terminal in cbreak mode (keys arrive unbuffered, Ctrl-C still works); restore it.

    Yields the file descriptor to read keys from, or None when `stream` is not a terminal.
    """
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        yield None
        return
    if not os.isatty(fd):
        yield None
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield fd
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


class _Keys:
    """Keys from a terminal in cbreak mode; without one (or at end of input) only waits."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd

    def wait(self, timeout: float, stop: threading.Event) -> str | None:
        """A key pressed within `timeout`, or None; returns early once `stop` is set."""
        remaining = timeout
        while remaining > 0 and not stop.is_set():
            step = min(0.1, remaining)
            if self.fd is None:
                stop.wait(step)
            else:
                ready, _, _ = select.select([self.fd], [], [], step)
                if ready:
                    data = os.read(self.fd, 32)
                    if not data:  # end of input: keep refreshing, stop reading
                        self.fd = None
                        continue
                    return data.decode("utf-8", "replace")
            remaining -= step
        return None


def run(
    repository: Repository,
    *,
    refresh: float = 2.0,
    window_seconds: float = 3600.0,
    stop: threading.Event | None = None,
    console: Console | None = None,
    keys: IO[str] | None = None,
) -> None:
    """Show the view until `q`, or until `stop` is set (SIGTERM, Ctrl-C)."""
    stop = stop or threading.Event()
    console = console or Console()
    keys = keys if keys is not None else sys.stdin
    with cbreak(keys) as fd, Live(console=console, screen=True, auto_refresh=False) as live:
        pressed = _Keys(fd)
        last: Snapshot | None = None
        while not stop.is_set():
            error = None
            try:
                last = snapshot(repository, window_seconds)
            except WebsiteMonitorError as exc:
                hint = f" (hint: {exc.hint})" if exc.hint else ""
                error = f"Error: {exc.message}{hint}; retrying every {refresh:g}s"
            if last is not None:
                live.update(render(last, error), refresh=True)
            elif error:
                live.update(literal(error, "bold red", longest=None), refresh=True)
            key = pressed.wait(refresh, stop)
            if key and key.strip().lower().startswith("q"):
                return
