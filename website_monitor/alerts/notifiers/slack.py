"""slack: a message to an incoming webhook (`text`, plus Block Kit `blocks`).

Slack's documented format: `text` is the fallback shown in notifications, and
`blocks` the message itself: a `header` block (plain text, at most 150
characters), a `section` with mrkdwn `fields` and `text` (at most 3000
characters), and a `context` block with the dedup key. Text from the data
(URLs, error details) is escaped (`&`, `<`, `>`), so it cannot become a link or
a mention. The webhook URL is a secret: give it as `url_env` to keep it out of
the file; it never appears in errors or logs.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urlsplit

from website_monitor.alerts.notifiers import (
    Notification,
    Notifier,
    environment_secret,
    secret_from,
    timeout_of,
    title,
)
from website_monitor.alerts.notifiers._http import post
from website_monitor.alerts.tables import Table

ICONS = {
    "open": ":red_circle:",
    "remind": ":large_orange_circle:",
    "resolve": ":large_green_circle:",
}


def escape(text: str) -> str:
    """Slack's escaping of control characters in message text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message(notification: Notification) -> dict[str, Any]:
    """The incoming-webhook body for a notification."""
    incident = notification.incident
    icon = ICONS.get(notification.event, ":information_source:")
    heading = title(notification)
    fields = []
    for label, key in (
        ("Kind", "kind"),
        ("Severity", "severity"),
        ("Started", "started_at"),
        ("Resolved", "resolved_at"),
        ("Failures", "failures"),
        ("Last error", "last_error"),
    ):
        value = incident.get(key)
        if value not in (None, ""):
            fields.append({"type": "mrkdwn", "text": f"*{label}*\n{escape(str(value))[:1900]}"})
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": heading[:150]}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"{icon} {escape(notification.summary)}"[:3000]},
        },
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields[:10]})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"website-monitor · {escape(notification.dedup_key)}"}
            ],
        }
    )
    return {"text": f"{heading}: {notification.summary}"[:3000], "blocks": blocks}


class SlackNotifier(Notifier):
    type = "slack"

    def __init__(
        self,
        name: str,
        url: str | None,
        *,
        url_env: str | None = None,
        timeout: float = 10.0,
        where: str = "",
    ) -> None:
        super().__init__(name, timeout)
        self._url = url
        self.url_env = url_env
        self.where = where or f"notifier {name!r}"

    def _target(self) -> str:
        if self.url_env:
            return environment_secret(self.where, "url", self.url_env)
        assert self._url is not None
        return self._url

    def check_ready(self) -> None:
        self._target()

    def secrets(self) -> tuple[str, ...]:
        url = self._url or (os.environ.get(self.url_env, "") if self.url_env else "")
        return (url, urlsplit(url).path) if url else ()

    def send(self, notification: Notification) -> None:
        post(self._target(), json.dumps(message(notification)).encode(), timeout=self.timeout)


def from_table(name: str, table: Table) -> SlackNotifier:
    url, variable = secret_from(table, "url", required=True)
    if url is not None and not url.startswith(("https://", "http://")):
        raise table.error("url", "expected the incoming webhook's https URL")
    return SlackNotifier(name, url, url_env=variable, timeout=timeout_of(table), where=table.where)
