"""How `wm tail` shows what it sees: plain lines, JSON lines, or a live terminal panel.

Paths and bad lines come from the logs, so from anyone who sends a request: the
plain lines show them with control characters escaped, and the panel builds every
piece from `Text` (`display.literal`), never from markup (see `website_monitor.display`).
"""

from __future__ import annotations

import collections
import json
from collections.abc import Callable, Sequence
from typing import TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from website_monitor.display import literal, printable
from website_monitor.logs.alerts import AlertEvent
from website_monitor.logs.summary import WindowSummary, iso

BAD_LINE = "Incorrect log line format: {line}"


class TextReporter:
    """Plain lines, for pipes and files: a headline and a detail line per window."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write

    def write(self, line: str) -> None:
        self._write(printable(line))

    def summary(self, summary: WindowSummary) -> None:
        self.write(summary.headline())
        self.write(summary.details())

    def alert(self, event: AlertEvent) -> None:
        for message in event.messages:
            self.write(message)

    def bad_line(self, line: str) -> None:
        self.write(BAD_LINE.format(line=line))


class JSONReporter:
    """One JSON object per summary and per alert change."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write

    def summary(self, summary: WindowSummary) -> None:
        self.write(json.dumps(summary.to_dict()))

    def alert(self, event: AlertEvent) -> None:
        self.write(json.dumps(event.to_dict()))

    def bad_line(self, line: str) -> None:
        pass  # counted in the summary's bad_lines


class LiveReporter:
    """A panel redrawn in place on a terminal; alert messages also scroll above it."""

    def __init__(self, console: Console | None = None, paths: Sequence[str] = ()) -> None:
        self.console = console or Console()
        self.paths = list(paths)
        self.last: WindowSummary | None = None
        self.active: AlertEvent | None = None
        self.events: collections.deque[str] = collections.deque(maxlen=6)
        self.live = Live(self.render(), console=self.console, auto_refresh=False, transient=False)

    def __enter__(self) -> LiveReporter:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()

    def _refresh(self) -> None:
        self.live.update(self.render(), refresh=True)

    def summary(self, summary: WindowSummary) -> None:
        self.last = summary
        self._refresh()

    def alert(self, event: AlertEvent) -> None:
        self.active = event if event.state == "triggered" else None
        style = "bold red" if event.state == "triggered" else "green"
        for message in event.messages:
            self.console.print(literal(message, style, longest=None))
            self.events.append(message)
        self._refresh()

    def bad_line(self, line: str) -> None:
        self.events.append(BAD_LINE.format(line=line))

    def render(self) -> Panel:
        parts: list[Text | Table] = []
        if self.active is not None:
            parts.append(
                Text(
                    f"ALERT since {iso(self.active.started_at)}: high traffic, "
                    f"{self.active.value:.2f} hits/s (threshold {self.active.threshold:g})",
                    style="bold white on red",
                )
            )
        else:
            parts.append(Text("No alert", style="green"))
        summary = self.last
        if summary is None:
            parts.append(Text("Waiting for the first window…", style="dim"))
        else:
            parts.append(literal(summary.headline(), "bold"))
            stats = Table.grid(padding=(0, 2))
            stats.add_row(
                literal(f"{iso(summary.start)} to {iso(summary.end)}"),
                literal(f"{summary.hits_per_second:.2f} hits/s"),
                literal(f"{summary.bytes} bytes"),
                literal(f"{summary.users} users"),
                literal(f"{summary.hosts} hosts"),
            )
            stats.add_row(*(literal(f"{k} {v}") for k, v in summary.status_classes.items()), Text())
            parts.append(stats)
            tops = Table(box=None, padding=(0, 2), show_edge=False)
            tops.add_column("section")
            tops.add_column("hits", justify="right")
            tops.add_column("endpoint")
            tops.add_column("hits", justify="right")
            for i in range(max(len(summary.top_sections), len(summary.top_endpoints))):
                section = summary.top_sections[i] if i < len(summary.top_sections) else ("", "")
                endpoint = summary.top_endpoints[i] if i < len(summary.top_endpoints) else ("", "")
                tops.add_row(*(literal(value) for value in (*section, *endpoint)))
            parts.append(tops)
            if summary.bad_lines or summary.late_lines:
                parts.append(
                    Text(
                        f"{summary.bad_lines} incorrect lines, {summary.late_lines} late lines",
                        style="yellow",
                    )
                )
        for message in self.events:
            parts.append(literal(message, "dim"))
        title = literal("wm tail " + " ".join(self.paths))
        return Panel(Group(*parts), title=title, title_align="left")


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
