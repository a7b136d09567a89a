"""Consecutive failed and good checks of one URL under one rule: when an incident opens and ends.

Pure logic over checks in timestamp order (several probing hosts' checks of a
URL interleave by their timestamps). A location fails after
`failure_threshold` consecutive failed checks and recovers after
`success_threshold` consecutive good ones. An incident opens when
`min_failed_locations` locations are failing (one by default) and resolves when
fewer are. Without `min_failed_locations` every check of the URL is one
sequence, whichever host made it; with it, each location (the probe result's
`location`) is a sequence of its own.

A check older than one already walked for its location came too late to take
its place in the order: it is counted as late (and logged), and walks past.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from website_monitor.alerts.rules import AlertRule
from website_monitor.times import as_utc


@dataclasses.dataclass(frozen=True)
class Check:
    """What the walk needs of one stored probe result."""

    id: int
    url: str
    timestamp: datetime
    ok: bool
    error: str | None
    location: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Check:
        ok = bool(row["ok"])
        return cls(
            id=int(row["id"]),
            url=row["url"],
            timestamp=as_utc(row["timestamp"]),
            ok=ok,
            error=None if ok else describe_failure(row),
            location=row.get("location"),
        )


def describe_failure(row: Mapping[str, Any]) -> str:
    """`refused: Connection refused`, `HTTP 503`, `content did not match`: why it failed."""
    if row.get("error"):
        detail = row.get("error_detail")
        return f"{row['error']}: {detail}"[:300] if detail else str(row["error"])
    status = row.get("http_status_code")
    if row.get("content_match") is not None and not row["content_match"] and status:
        return f"HTTP {status}, content did not match"
    return f"HTTP {status}" if status is not None else "failed"


@dataclasses.dataclass
class Position:
    """How far one rule has walked one URL's checks at one location, and the run there."""

    rule: str
    url: str
    location: str
    last_ts: datetime | None = None
    last_id: int = 0
    run_ok: bool = True
    run_count: int = 0
    run_start: datetime | None = None
    failing: bool = False
    failing_since: datetime | None = None
    late: int = 0
    last_error: str | None = None

    @property
    def key(self) -> str:
        """Its row's key: a hash of rule, URL and location (a URL may be long)."""
        text = json.dumps([self.rule, self.url, self.location], separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Position:
        return cls(
            rule=row["rule"],
            url=row["url"],
            location=row["location"],
            last_ts=as_utc(row["last_ts"]),
            last_id=int(row["last_id"]),
            run_ok=bool(row["run_ok"]),
            run_count=int(row["run_count"]),
            run_start=as_utc(row["run_start"]),
            failing=bool(row["failing"]),
            failing_since=None if row["failing_since"] is None else as_utc(row["failing_since"]),
            late=int(row["late"]),
            last_error=row["last_error"],
        )


@dataclasses.dataclass(frozen=True)
class Opened:
    at: datetime
    started_at: datetime
    failures: int
    last_error: str | None


@dataclasses.dataclass(frozen=True)
class Failed:
    at: datetime
    error: str | None


@dataclasses.dataclass(frozen=True)
class Resolved:
    at: datetime
    resolved_at: datetime


Change = Opened | Failed | Resolved


class Walk:
    """One rule over one URL: feed checks in timestamp order, collect the changes."""

    def __init__(
        self, rule: AlertRule, positions: dict[str, Position], *, incident_open: bool
    ) -> None:
        self.rule = rule
        self.positions = positions
        self.incident_open = incident_open
        self.needed = rule.min_failed_locations or 1
        self.late = 0

    def position(self, check: Check) -> Position:
        location = (check.location or "") if self.rule.min_failed_locations else ""
        found = self.positions.get(location)
        if found is None:
            found = self.positions[location] = Position(self.rule.name, check.url, location)
        return found

    def feed(self, check: Check) -> Change | None:
        """Walk one check; the change to the incident it causes, if any."""
        position = self.position(check)
        if position.last_ts is not None and (check.timestamp, check.id) <= (
            position.last_ts,
            position.last_id,
        ):
            position.late += 1
            self.late += 1
            return None
        position.last_ts, position.last_id = check.timestamp, check.id
        if position.run_count and check.ok == position.run_ok:
            position.run_count += 1
        else:
            position.run_ok, position.run_count, position.run_start = check.ok, 1, check.timestamp
        recovered: datetime | None = None
        if not check.ok:
            position.last_error = check.error
            if not position.failing and position.run_count >= self.rule.failure_threshold:
                position.failing, position.failing_since = True, position.run_start
        elif position.failing and position.run_count >= self.rule.success_threshold:
            position.failing, position.failing_since = False, None
            recovered = position.run_start
        failing = [p for p in self.positions.values() if p.failing]
        if not self.incident_open:
            if len(failing) >= self.needed:
                self.incident_open = True
                starts = [p.failing_since for p in failing if p.failing_since is not None]
                return Opened(
                    at=check.timestamp,
                    started_at=min(starts),
                    failures=sum(p.run_count for p in failing),
                    last_error=check.error,
                )
            return None
        if len(failing) < self.needed:
            self.incident_open = False
            return Resolved(at=check.timestamp, resolved_at=recovered or check.timestamp)
        return None if check.ok else Failed(at=check.timestamp, error=check.error)
