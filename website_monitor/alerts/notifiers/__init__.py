"""Notifiers: one small module per type behind one interface, `Notifier.send(notification)`.

A `Notification` is what the outbox stored for one transition of one incident:
its dedup key (incident id and transition), the transition, and the JSON
payload (the generic document, `alerts.incidents.payload`). Each type turns it
into what its receiver expects and raises `NotifyError` with a one-line reason
when the receiver did not accept it; the outbox retries with backoff.

A notifier never puts a secret (password, routing key, HMAC secret, a Slack
webhook's path) in a reason or a log line.
"""

from __future__ import annotations

import abc
import dataclasses
import importlib
import os
from typing import Any

from website_monitor.alerts.tables import Table
from website_monitor.errors import ConfigError

#: Each type's module in this package.
TYPES = ("webhook", "slack", "pagerduty", "email", "alertmanager", "command")
#: Seconds a delivery may take before it counts as failed.
DEFAULT_TIMEOUT = 10.0


@dataclasses.dataclass(frozen=True)
class Notification:
    """One delivery to make: the same dedup key and payload on every attempt."""

    dedup_key: str
    transition: str
    payload: dict[str, Any]

    @property
    def event(self) -> str:
        """`open`, `remind`, `resolve` (or `test`): the transition without its number."""
        return str(self.payload.get("event") or self.transition.split("-", 1)[0])

    @property
    def incident(self) -> dict[str, Any]:
        value = self.payload.get("incident")
        return value if isinstance(value, dict) else {}

    @property
    def summary(self) -> str:
        return str(self.payload.get("summary") or self.transition)

    @property
    def firing(self) -> bool:
        return self.event != "resolve"


class NotifyError(Exception):
    """The receiver did not accept a notification; `reason` says why, without secrets."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Notifier(abc.ABC):
    """Delivers notifications to one receiver."""

    type: str = ""

    def __init__(self, name: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.name = name
        self.timeout = timeout

    @abc.abstractmethod
    def send(self, notification: Notification) -> None:
        """Deliver it, or raise NotifyError."""

    def secrets(self) -> tuple[str, ...]:
        """What it sends that must never be shown (masked in every log record)."""
        return ()

    def check_ready(self) -> None:  # noqa: B027 - most types need nothing
        """Raise ConfigError if something it needs at send time (a secret in the
        environment) is missing; commands that send call it at start."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def from_table(name: str, kind: str, table: Table) -> Notifier:
    """The notifier a `[[notifier]]` table describes (its `name` and `type` already read)."""
    if kind not in TYPES:
        raise table.error("type", f"unknown notifier type {kind!r}", hint="use " + ", ".join(TYPES))
    module = importlib.import_module(f"website_monitor.alerts.notifiers.{kind}")
    notifier: Notifier = module.from_table(name, table)
    table.finish()
    return notifier


def timeout_of(table: Table) -> float:
    return table.duration("timeout") or DEFAULT_TIMEOUT


def secret_from(table: Table, key: str, *, required: bool) -> tuple[str | None, str | None]:
    """A secret given as `key = "…"` or, better, `key_env = "VARIABLE"`: (value, variable).

    The variable is read when the notifier sends (`environment_secret`), so a
    command that never sends does not need it.
    """
    given = table.values.get(key)
    if given is not None and (not isinstance(given, str) or not given.strip()):
        table.read.add(key)  # what was written may be the secret, mistyped: never shown
        raise table.error(key, "expected a non-empty string (a secret: not shown)")
    value = table.text(key)
    variable = table.text(f"{key}_env")
    if value and variable:
        raise table.error(key, f"give {key} or {key}_env, not both")
    if required and not (value or variable):
        raise ConfigError(
            f"{table.where}: {key} is missing", hint=f'add {key}_env = "VARIABLE" (or {key})'
        )
    return value, variable


def environment_secret(where: str, key: str, variable: str) -> str:
    """The secret in environment variable `variable` (named by `key_env`), or ConfigError."""
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(
            f"{where}: {key}_env: the environment variable {variable} is not set",
            hint=f"export {variable}=… before starting",
        )
    return value


def title(notification: Notification) -> str:
    """`[OPEN] site down: https://example.org/health` and the like."""
    incident = notification.incident
    label = {"open": "OPEN", "remind": "STILL OPEN", "resolve": "RESOLVED", "test": "TEST"}.get(
        notification.event, notification.event.upper()
    )
    subject = incident.get("url") or incident.get("source") or ""
    name = incident.get("alert") or "website-monitor"
    return f"[{label}] {name}" + (f": {subject}" if subject else "")
