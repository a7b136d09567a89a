"""alertmanager: `POST <url>/api/v2/alerts` with `startsAt` and `endsAt`.

Each incident is one Alertmanager alert, told apart by its labels: `alertname`
(the rule or SLO), `kind`, `severity`, `incident` (its id) and `url` or
`source`, plus the notifier's `labels`. Annotations carry the summary and the
notification's dedup key. Alertmanager resolves an alert once its `endsAt` has
passed, so an open incident is posted with `endsAt` `hold` (default 7d) after
the transition (each reminder moves it on), and the resolution with `endsAt` at
the time it recovered.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from website_monitor.alerts.notifiers import Notification, Notifier, timeout_of
from website_monitor.alerts.notifiers._http import http_url, post
from website_monitor.alerts.tables import Table
from website_monitor.store.url import url_secrets
from website_monitor.times import as_utc

HOLD = 7 * 86400.0
#: What Alertmanager accepts as a label name.
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _rfc3339(value: Any) -> str:
    return as_utc(value).isoformat().replace("+00:00", "Z")


def alert(notification: Notification, labels: dict[str, str], hold: float) -> dict[str, Any]:
    """The postable alert for a notification."""
    incident = notification.incident
    names: dict[str, str] = {
        "alertname": str(incident.get("alert") or "website-monitor"),
        "kind": str(incident.get("kind") or ""),
        "severity": str(incident.get("severity") or ""),
        "incident": str(incident.get("id") or ""),
    }
    for key in ("url", "source"):
        if incident.get(key):
            names[key] = str(incident[key])
    names.update(labels)
    at = notification.payload.get("at") or datetime.now(timezone.utc)
    started = incident.get("started_at") or at
    if notification.event == "resolve":
        ends = incident.get("resolved_at") or at
    else:
        ends = as_utc(at) + timedelta(seconds=hold)
    return {
        "labels": {key: value for key, value in names.items() if value},
        "annotations": {
            "summary": notification.summary,
            "description": str(incident.get("last_error") or ""),
            "dedup_key": notification.dedup_key,
        },
        "startsAt": _rfc3339(started),
        "endsAt": _rfc3339(ends),
    }


class AlertmanagerNotifier(Notifier):
    type = "alertmanager"

    def __init__(
        self,
        name: str,
        url: str,
        *,
        labels: dict[str, str] | None = None,
        hold: float = HOLD,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(name, timeout)
        self.url = url.rstrip("/") + "/api/v2/alerts"
        self.labels = dict(labels or {})
        self.hold = hold

    def secrets(self) -> tuple[str, ...]:
        return url_secrets(self.url)

    def send(self, notification: Notification) -> None:
        body = [alert(notification, self.labels, self.hold)]
        post(self.url, json.dumps(body).encode(), timeout=self.timeout)


def from_table(name: str, table: Table) -> AlertmanagerNotifier:
    url = http_url(table)
    if "/api/" in url:
        raise table.error(
            "url", "give Alertmanager's base URL", hint="e.g. http://alertmanager:9093"
        )
    labels = table.strings("labels")
    for label in labels:
        if not LABEL_NAME.match(label):
            raise table.error(
                "labels", f"{label!r} is not a label name", hint="[a-zA-Z_][a-zA-Z0-9_]*"
            )
    return AlertmanagerNotifier(
        name,
        url,
        labels=labels,
        hold=table.duration("hold") or HOLD,
        timeout=timeout_of(table),
    )
