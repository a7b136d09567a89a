"""What one window of traffic looked like: hits, bytes, users, status classes, top sections."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from typing import Any

from website_monitor.logs.formats import LogRecord, path_keys

TOP = 5


class WindowStats:
    """Counters for one window, updated once per request (the hot path: keep it small)."""

    __slots__ = (
        "bad",
        "bytes",
        "endpoints",
        "hits",
        "hosts",
        "late",
        "sections",
        "statuses",
        "users",
    )

    def __init__(self) -> None:
        self.hits = 0
        self.bytes = 0
        self.bad = 0
        self.late = 0
        self.users: set[str] = set()
        self.hosts: set[str] = set()
        self.statuses = [0] * 10
        self.sections: dict[str, int] = {}
        self.endpoints: dict[str, int] = {}

    def add(self, record: LogRecord) -> None:
        self.hits += 1
        self.bytes += record.bytes
        if record.user is not None:
            self.users.add(record.user)
        self.hosts.add(record.remote_host)
        self.statuses[record.status // 100] += 1
        section, endpoint = path_keys(record.path)
        sections = self.sections
        sections[section] = sections.get(section, 0) + 1
        endpoints = self.endpoints
        endpoints[endpoint] = endpoints.get(endpoint, 0) + 1

    def summary(self, start: float, end: float, top: int = TOP) -> WindowSummary:
        return WindowSummary(
            start=start,
            end=end,
            hits=self.hits,
            bytes=self.bytes,
            users=len(self.users),
            hosts=len(self.hosts),
            status_classes={f"{n}xx": self.statuses[n] for n in (2, 3, 4, 5)},
            other_status=sum(self.statuses) - sum(self.statuses[n] for n in (2, 3, 4, 5)),
            top_sections=_top(self.sections, top),
            top_endpoints=_top(self.endpoints, top),
            bad_lines=self.bad,
            late_lines=self.late,
        )


def _top(counts: dict[str, int], limit: int) -> list[tuple[str, int]]:
    """Most hits first; ties by name, so output is deterministic."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]


def iso(seconds: float) -> str:
    """`2018-05-09T16:00:40Z`: the time format of every message `wm tail` prints."""
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    text = moment.isoformat(timespec="milliseconds" if seconds % 1 else "seconds")
    return text.replace("+00:00", "Z")


def format_seconds(seconds: float) -> str:
    return f"{seconds:g}"


@dataclasses.dataclass(frozen=True)
class WindowSummary:
    """The summary of the window [start, end) (seconds since the epoch)."""

    start: float
    end: float
    hits: int
    bytes: int
    users: int
    hosts: int
    status_classes: dict[str, int]
    other_status: int
    top_sections: list[tuple[str, int]]
    top_endpoints: list[tuple[str, int]]
    bad_lines: int = 0
    late_lines: int = 0

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def hits_per_second(self) -> float:
        return self.hits / self.duration if self.duration > 0 else 0.0

    def headline(self) -> str:
        """The summary line: `N requests received during the last 10 seconds, most hits on…`."""
        text = (
            f"{self.hits} requests received during the last {format_seconds(self.duration)} seconds"
        )
        if self.top_sections:
            section, hits = self.top_sections[0]
            text += f", most hits on section {section} with {hits}"
        return text

    def details(self) -> str:
        """The rest of the summary on one line."""
        classes = " ".join(f"{name} {count}" for name, count in self.status_classes.items())
        parts = [
            f"  {iso(self.start)} - {iso(self.end)}:",
            f"{self.hits_per_second:.2f} hits/s,",
            f"{self.bytes} bytes,",
            f"{self.users} users,",
            f"{self.hosts} hosts,",
            classes,
        ]
        if self.other_status:
            parts.append(f"other {self.other_status}")
        if self.top_sections:
            parts.append(
                "| sections " + ", ".join(f"{name} {count}" for name, count in self.top_sections)
            )
        if self.top_endpoints:
            parts.append(
                "| endpoints " + ", ".join(f"{name} {count}" for name, count in self.top_endpoints)
            )
        if self.bad_lines:
            parts.append(f"| {self.bad_lines} incorrect lines")
        if self.late_lines:
            parts.append(f"| {self.late_lines} late lines")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "summary",
            "start": iso(self.start),
            "end": iso(self.end),
            "hits": self.hits,
            "hits_per_second": round(self.hits_per_second, 3),
            "bytes": self.bytes,
            "users": self.users,
            "hosts": self.hosts,
            "status_classes": dict(self.status_classes),
            "other_status": self.other_status,
            "top_sections": [{"section": s, "hits": n} for s, n in self.top_sections],
            "top_endpoints": [{"endpoint": e, "hits": n} for e, n in self.top_endpoints],
            "bad_lines": self.bad_lines,
            "late_lines": self.late_lines,
            "message": self.headline(),
        }
