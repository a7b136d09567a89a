"""The alerting configuration: `[[notifier]]`, `[[alert]]`, `[[maintenance]]` and `[[slo]]`.

They are arrays of tables in the same `wm.toml` as the settings (`--config`,
`WM_CONFIG`), read here and checked as a whole when a command starts: an
unknown notifier name, a bad duration or a maintenance window without an end is
one `Error:` line naming the table and the key.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from website_monitor.alerts.notifiers import Notifier
from website_monitor.alerts.notifiers import from_table as notifier_from_table
from website_monitor.alerts.tables import Table
from website_monitor.config import ALERTING_TABLES, parse_duration
from website_monitor.config.resolve import read_file
from website_monitor.errors import ConfigError

#: The arrays of tables read here (the settings reader leaves them alone).
TABLES = ALERTING_TABLES
SEVERITIES = ("page", "notify")
#: The keys of an [[alert]] on URLs that one on `wm tail`'s sources does not take.
URL_RULE_KEYS = (
    "urls",
    "url_pattern",
    "failure_threshold",
    "success_threshold",
    "latency",
    "remind_every",
    "min_failed_locations",
)


@dataclasses.dataclass(frozen=True)
class Targets:
    """Which URLs a rule, window or SLO covers: listed, or matching a glob pattern."""

    urls: tuple[str, ...] = ()
    url_pattern: str | None = None

    def matches(self, url: str) -> bool:
        if url in self.urls:
            return True
        return self.url_pattern is not None and fnmatch.fnmatchcase(url, self.url_pattern)

    @classmethod
    def read(cls, table: Table, *, required: bool = True) -> Targets:
        targets = cls(table.texts("urls"), table.text("url_pattern"))
        if required and not (targets.urls or targets.url_pattern):
            raise ConfigError(
                f"{table.where}: urls is missing",
                hint='urls = ["https://example.org/health"] or url_pattern = "https://*.example.org/*"',
            )
        return targets


_LATENCY = re.compile(r"^\s*p(\d{1,2}(?:\.\d+)?)\s*>\s*(\S+)\s+over\s+(\S+)\s*$")


@dataclasses.dataclass(frozen=True)
class LatencyCondition:
    """`p95 > 500ms over 5m`: a percentile of the response times over a trailing window."""

    percentile: float
    threshold_ms: float
    window: float
    text: str

    @classmethod
    def parse(cls, text: str, table: Table) -> LatencyCondition:
        match = _LATENCY.match(text)
        hint = 'e.g. latency = "p95 > 500ms over 5m"'
        if not match:
            raise table.error("latency", f"cannot read {text!r}", hint=hint)
        percentile = float(match.group(1))
        try:
            threshold = parse_duration(match.group(2)) * 1000.0
            window = parse_duration(match.group(3))
        except ConfigError as exc:
            raise table.error("latency", exc.message, hint=exc.hint) from None
        if not 0 < percentile < 100 or threshold <= 0 or window <= 0:
            raise table.error("latency", f"{text!r} is out of range", hint=hint)
        return cls(percentile, threshold, window, " ".join(text.split()))


@dataclasses.dataclass(frozen=True)
class AlertRule:
    """One `[[alert]]`: URLs whose failed checks open incidents (or, with `sources`,
    the high-traffic alerts of `wm tail`), and whom to tell."""

    name: str
    targets: Targets = Targets()
    sources: tuple[str, ...] = ()
    failure_threshold: int = 3
    success_threshold: int = 2
    notify: tuple[str, ...] = ()
    remind_every: float | None = None
    latency: LatencyCondition | None = None
    #: k of n: open only when this many probing locations fail (None: all checks of a
    #: URL form one sequence, whichever host made them).
    min_failed_locations: int | None = None
    severity: str = "page"

    @property
    def traffic(self) -> bool:
        return bool(self.sources)

    def matches(self, url: str) -> bool:
        return not self.traffic and self.targets.matches(url)

    def matches_source(self, source: str) -> bool:
        return any(fnmatch.fnmatchcase(source, pattern) for pattern in self.sources)


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: `mon` and `monday` alike: Monday is 0, as `datetime.weekday()` counts.
_DAYS = {
    **{day[:3]: i for i, day in enumerate(_WEEKDAYS)},
    **{d: i for i, d in enumerate(_WEEKDAYS)},
}
_EVERY = re.compile(r"^\s*([a-z]+)\s+(\d{1,2}):(\d{2})\s*$")


@dataclasses.dataclass(frozen=True)
class Recurrence:
    """`sun 02:00` (weekly) or `daily 02:00`, in UTC."""

    weekday: int | None
    hour: int
    minute: int

    @classmethod
    def parse(cls, text: str, table: Table) -> Recurrence:
        match = _EVERY.match(text.lower())
        hint = 'e.g. every = "sun 02:00" or "daily 03:30" (UTC)'
        if not match:
            raise table.error("every", f"cannot read {text!r}", hint=hint)
        day, hour, minute = match.group(1), int(match.group(2)), int(match.group(3))
        if hour > 23 or minute > 59:
            raise table.error("every", f"{text!r} is not a time of day", hint=hint)
        if day in ("daily", "day"):
            return cls(None, hour, minute)
        if day in _DAYS:
            return cls(_DAYS[day], hour, minute)
        raise table.error("every", f"unknown day {day!r}", hint=hint)

    def last_start(self, at: datetime) -> datetime:
        """The latest start at or before `at`."""
        start = at.replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        if self.weekday is None:
            return start if start <= at else start - timedelta(days=1)
        start -= timedelta(days=(start.weekday() - self.weekday) % 7)
        return start if start <= at else start - timedelta(days=7)


@dataclasses.dataclass(frozen=True)
class Maintenance:
    """One `[[maintenance]]` window: once (`start` plus `duration` or `end`) or recurring
    (`every` with `duration`). Incidents in it are recorded and marked; nothing is sent."""

    targets: Targets
    duration: float
    start: datetime | None = None
    every: Recurrence | None = None
    name: str | None = None

    def active(self, url: str | None, at: datetime) -> bool:
        if url is None or not self.targets.matches(url):
            return False
        if self.every is None:
            assert self.start is not None
            return self.start <= at < self.start + timedelta(seconds=self.duration)
        if self.start is not None and at < self.start:
            return False
        return at < self.every.last_start(at) + timedelta(seconds=self.duration)


@dataclasses.dataclass(frozen=True)
class Slo:
    """One `[[slo]]`: the share of good checks of some URLs over a rolling window."""

    name: str
    targets: Targets
    objective: float
    window: float
    window_text: str
    latency_ms: float | None = None
    notify: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Alerting:
    """Everything the alerting tables of one config file say."""

    notifiers: Mapping[str, Notifier] = dataclasses.field(default_factory=dict)
    alerts: tuple[AlertRule, ...] = ()
    maintenance: tuple[Maintenance, ...] = ()
    slos: tuple[Slo, ...] = ()
    path: str | None = None

    def in_maintenance(self, url: str | None, at: datetime) -> bool:
        return any(window.active(url, at) for window in self.maintenance)

    def traffic_rules(self, source: str) -> list[AlertRule]:
        return [rule for rule in self.alerts if rule.traffic and rule.matches_source(source)]


def load(path: str | Path | None) -> Alerting:
    """The alerting configuration in the config file at `path` (None: there is none)."""
    if path is None:
        return Alerting()
    file = Path(path)
    data = read_file(file)
    return parse(data, str(file))


def parse(data: Mapping[str, Any], origin: str = "wm.toml") -> Alerting:
    """The alerting tables of a parsed config file; `origin` names it in errors."""
    tables = {name: _array(data, name, origin) for name in TABLES}
    notifiers: dict[str, Notifier] = {}
    for index, raw in enumerate(tables["notifier"]):
        table = Table(raw, f"{origin}: [[notifier]] #{index + 1}")
        name = _name(table)
        if name in notifiers:
            raise table.error("name", f"a notifier named {name!r} is already defined")
        kind = table.required_text("type")
        notifiers[name] = notifier_from_table(name, kind, table)
    alerts = tuple(
        _alert(Table(raw, f"{origin}: [[alert]] #{i + 1}"), notifiers)
        for i, raw in enumerate(tables["alert"])
    )
    _unique([rule.name for rule in alerts], "alert", origin)
    maintenance = tuple(
        _maintenance(Table(raw, f"{origin}: [[maintenance]] #{i + 1}"))
        for i, raw in enumerate(tables["maintenance"])
    )
    slos = tuple(
        _slo(Table(raw, f"{origin}: [[slo]] #{i + 1}"), notifiers)
        for i, raw in enumerate(tables["slo"])
    )
    _unique([slo.name for slo in slos], "slo", origin)
    return Alerting(notifiers, alerts, maintenance, slos, origin)


def _array(data: Mapping[str, Any], name: str, origin: str) -> list[Mapping[str, Any]]:
    value = data.get(name, [])
    if isinstance(value, dict):
        raise ConfigError(
            f"{origin}: [{name}] must be an array of tables", hint=f"write [[{name}]]"
        )
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ConfigError(f"{origin}: {name} must be written as [[{name}]] tables")
    return value


def _name(table: Table) -> str:
    name = table.required_text("name")
    table.where = f"{table.where.rsplit(' #', 1)[0]} {name!r}"
    return name


def _unique(names: list[str], kind: str, origin: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ConfigError(f"{origin}: [[{kind}]] {name!r} is defined twice")
        seen.add(name)


def _notify(table: Table, notifiers: Mapping[str, Notifier]) -> tuple[str, ...]:
    names = table.texts("notify")
    for name in names:
        if name not in notifiers:
            known = ", ".join(sorted(notifiers)) or "none is defined"
            raise table.error(
                "notify", f"unknown notifier {name!r}", hint=f"the [[notifier]] names: {known}"
            )
    return names


def _alert(table: Table, notifiers: Mapping[str, Notifier]) -> AlertRule:
    name = _name(table)
    sources = table.texts("sources")
    notify = _notify(table, notifiers)
    severity = table.choice("severity", SEVERITIES, default="page")
    if sources:
        for key in URL_RULE_KEYS:
            if table.has(key):
                raise table.error(key, "does not apply to a rule on wm tail's sources")
        table.finish()
        return AlertRule(name, sources=sources, notify=notify, severity=severity)
    targets = Targets.read(table)
    latency_text = table.text("latency")
    locations = table.integer("min_failed_locations", default=0)
    rule = AlertRule(
        name,
        targets,
        failure_threshold=table.integer("failure_threshold", default=3),
        success_threshold=table.integer("success_threshold", default=2),
        notify=notify,
        remind_every=table.duration("remind_every"),
        latency=LatencyCondition.parse(latency_text, table) if latency_text else None,
        min_failed_locations=locations or None,
        severity=severity,
    )
    table.finish()
    return rule


def _moment(table: Table, key: str) -> datetime | None:
    value = table.values.get(key)
    table.read.add(key)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise table.error(
                key, f"invalid time {value!r}", hint="ISO 8601, e.g. 2026-12-24T00:00:00Z"
            ) from None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise table.error(key, "expected a time such as 2026-12-24T00:00:00Z")
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def _maintenance(table: Table) -> Maintenance:
    name = table.text("name")
    if name:
        table.where = f"{table.where.rsplit(' #', 1)[0]} {name!r}"
    targets = Targets.read(table)
    start = _moment(table, "start")
    end = _moment(table, "end")
    every_text = table.text("every")
    duration = table.duration("duration")
    if end is not None and duration is not None:
        raise table.error("end", "give duration or end, not both")
    if every_text is None and start is None:
        raise ConfigError(
            f"{table.where}: start is missing",
            hint='start = "2026-12-24T00:00:00Z" with duration, or every = "sun 02:00"',
        )
    if end is not None:
        if every_text is not None:
            raise table.error("end", "a recurring window takes a duration")
        assert start is not None
        if end <= start:
            raise table.error("end", f"{end.isoformat()} is not after start")
        duration = (end - start).total_seconds()
    if duration is None:
        raise ConfigError(
            f"{table.where}: the window has no end: duration is missing",
            hint='duration = "2h" (or end = "…" for a one-off window)',
        )
    every = Recurrence.parse(every_text, table) if every_text else None
    window = Maintenance(targets, duration, start, every, name)
    table.finish()
    return window


def _slo(table: Table, notifiers: Mapping[str, Notifier]) -> Slo:
    name = _name(table)
    targets = Targets.read(table)
    objective = table.number("objective")
    if objective is None:
        raise ConfigError(f"{table.where}: objective is missing", hint="objective = 99.9")
    if not 0 < objective < 100:
        raise table.error(
            "objective", f"must be a percentage above 0 and below 100, got {objective:g}"
        )
    window = table.duration("window")
    if window is None:
        raise ConfigError(f"{table.where}: window is missing", hint='window = "28d"')
    if window < 3600:
        raise table.error("window", "must be at least 1h")
    latency = table.number("latency_ms")
    if latency is not None and latency <= 0:
        raise table.error("latency_ms", "must be positive")
    slo = Slo(
        name,
        targets,
        objective,
        window,
        str(table.values["window"]),
        latency,
        _notify(table, notifiers),
    )
    table.finish()
    return slo


#: The config file of this process (`use_config_file`), for what `wm serve` shows.
_configured: dict[str, Any] = {"path": None, "loaded": None, "stamp": None}


def use_config_file(path: str | Path | None) -> None:
    """Name the config file this process was started with (`--config`, `WM_CONFIG`)."""
    _configured.update(path=None if path is None else str(path), loaded=None, stamp=None)


def configured() -> Alerting:
    """The alerting configuration of this process's config file, read again when it changes
    (so `wm serve` shows an SLO added to the file without a restart)."""
    path = _configured["path"]
    if path is None:
        return Alerting()
    try:
        stat = Path(path).stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        stamp = None
    if _configured["loaded"] is None or stamp != _configured["stamp"]:
        _configured.update(loaded=load(path), stamp=stamp)
    loaded: Alerting = _configured["loaded"]
    return loaded


def check_ready(notifiers: Iterable[Notifier]) -> None:
    """Raise ConfigError if a notifier lacks what it needs to send (a secret's variable);
    mask their secrets in every log record from now on."""
    from website_monitor import log

    for notifier in notifiers:
        notifier.check_ready()
        log.also_mask(notifier.secrets())
