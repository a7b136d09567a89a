"""webhook: the notification's JSON document, POSTed as it is.

Headers: `X-WM-Dedup-Key` (incident id and transition: the same on every retry,
so a receiver can drop a repeat) and, with a `secret`, `X-WM-Signature:
sha256=<hex>`, the HMAC-SHA256 of the body with the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re

from website_monitor.alerts.notifiers import (
    Notification,
    Notifier,
    environment_secret,
    secret_from,
    timeout_of,
)
from website_monitor.alerts.notifiers._http import http_url, post
from website_monitor.alerts.tables import Table
from website_monitor.store.url import url_secrets

#: Headers whose values are credentials (`Authorization`, `X-Api-Key`…), never shown.
_SECRET_HEADER = re.compile(r"auth|token|key|secret|password|cookie|signature", re.I)


def sign(secret: str, body: bytes) -> str:
    """The X-WM-Signature header's value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookNotifier(Notifier):
    type = "webhook"

    def __init__(
        self,
        name: str,
        url: str,
        *,
        secret: str | None = None,
        secret_env: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
        where: str = "",
    ) -> None:
        super().__init__(name, timeout)
        self.url = url
        self._secret = secret
        self.secret_env = secret_env
        self.headers = dict(headers or {})
        self.where = where or f"notifier {name!r}"

    def check_ready(self) -> None:
        if self.secret_env:
            environment_secret(self.where, "secret", self.secret_env)

    def secrets(self) -> tuple[str, ...]:
        variable = os.environ.get(self.secret_env or "", "") if self.secret_env else ""
        credentials = [  # `Bearer t`, and `t` alone
            shown
            for name, value in self.headers.items()
            if _SECRET_HEADER.search(name)
            for shown in (value, value.split()[-1] if value.split() else "")
        ]
        return (*url_secrets(self.url), self._secret or "", variable, *credentials)

    def send(self, notification: Notification) -> None:
        body = json.dumps(notification.payload).encode()
        headers = {**self.headers, "X-WM-Dedup-Key": notification.dedup_key}
        secret = self._secret
        if self.secret_env:
            secret = environment_secret(self.where, "secret", self.secret_env)
        if secret:
            headers["X-WM-Signature"] = sign(secret, body)
        post(self.url, body, timeout=self.timeout, headers=headers)


def from_table(name: str, table: Table) -> WebhookNotifier:
    secret, variable = secret_from(table, "secret", required=False)
    return WebhookNotifier(
        name,
        http_url(table),
        secret=secret,
        secret_env=variable,
        headers=table.strings("headers"),
        timeout=timeout_of(table),
        where=table.where,
    )
