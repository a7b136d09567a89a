"""pagerduty: Events API v2 (`POST https://events.pagerduty.com/v2/enqueue`).

An incident opening (and each reminder) is a `trigger`, its resolution a
`resolve`, both with `dedup_key` = `wm-<incident id>`: PagerDuty groups the
triggers of one incident into one alert and the resolve closes it. (The
notification's own key, incident id and transition, is in `custom_details`.)
`payload` carries `summary` (at most 1024 characters), `source` (the URL, the
`wm tail` source or the SLO), `severity` (`critical` for pages, `warning` for
notify-level incidents, or the notifier's `severity`), `timestamp`,
`component`, `group` and `class`. The routing key is a secret: give it as
`routing_key_env`.
"""

from __future__ import annotations

import json
import os
from typing import Any

from website_monitor.alerts.notifiers import (
    Notification,
    Notifier,
    environment_secret,
    secret_from,
    timeout_of,
)
from website_monitor.alerts.notifiers._http import http_url, post
from website_monitor.alerts.tables import Table

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITIES = ("critical", "error", "warning", "info")


def event(notification: Notification, routing_key: str, severity: str | None) -> dict[str, Any]:
    """The Events API v2 body for a notification."""
    incident = notification.incident
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "resolve" if notification.event == "resolve" else "trigger",
        "dedup_key": f"wm-{incident.get('id') or notification.dedup_key}",
    }
    if body["event_action"] == "trigger":
        chosen = severity or ("critical" if incident.get("severity") == "page" else "warning")
        body["payload"] = {
            "summary": notification.summary[:1024],
            "source": str(
                incident.get("url") or incident.get("source") or incident.get("alert") or "wm"
            )[:255],
            "severity": chosen,
            "timestamp": notification.payload.get("at") or incident.get("started_at"),
            "component": incident.get("url") or incident.get("source"),
            "group": incident.get("alert"),
            "class": incident.get("kind"),
            "custom_details": {
                "notification": notification.dedup_key,
                "transition": notification.transition,
                "failures": incident.get("failures"),
                "last_error": incident.get("last_error"),
                "started_at": incident.get("started_at"),
                "maintenance": incident.get("maintenance"),
            },
        }
        body["client"] = "website-monitor"
    return body


class PagerDutyNotifier(Notifier):
    type = "pagerduty"

    def __init__(
        self,
        name: str,
        routing_key: str | None,
        *,
        routing_key_env: str | None = None,
        url: str = EVENTS_URL,
        severity: str | None = None,
        timeout: float = 10.0,
        where: str = "",
    ) -> None:
        super().__init__(name, timeout)
        self._routing_key = routing_key
        self.routing_key_env = routing_key_env
        self.url = url
        self.severity = severity
        self.where = where or f"notifier {name!r}"

    def _key(self) -> str:
        if self.routing_key_env:
            return environment_secret(self.where, "routing_key", self.routing_key_env)
        assert self._routing_key is not None
        return self._routing_key

    def check_ready(self) -> None:
        self._key()

    def secrets(self) -> tuple[str, ...]:
        variable = os.environ.get(self.routing_key_env, "") if self.routing_key_env else ""
        return (self._routing_key or "", variable)

    def send(self, notification: Notification) -> None:
        body = event(notification, self._key(), self.severity)
        post(self.url, json.dumps(body).encode(), timeout=self.timeout)


def from_table(name: str, table: Table) -> PagerDutyNotifier:
    key, variable = secret_from(table, "routing_key", required=True)
    severity = table.text("severity")
    if severity is not None and severity not in SEVERITIES:
        raise table.error(
            "severity", f"unknown severity {severity!r}", "use " + ", ".join(SEVERITIES)
        )
    return PagerDutyNotifier(
        name,
        key,
        routing_key_env=variable,
        url=http_url(table, default=EVENTS_URL),
        severity=severity,
        timeout=timeout_of(table),
        where=table.where,
    )
