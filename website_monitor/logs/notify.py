"""Telling someone about an alert: a command to run, a webhook to call, the alert history.

Notifications run in one background thread, in order (a recovery never
overtakes its trigger), each with a timeout, so a slow receiver never stalls
the monitor; failures are logged, never fatal.
"""

from __future__ import annotations

import json
import os
import queue
import shlex
import subprocess
import threading
from collections.abc import Callable

from website_monitor import log
from website_monitor.errors import ConfigError, WebsiteMonitorError
from website_monitor.logs.alerts import AlertEvent
from website_monitor.store.base import Repository
from website_monitor.store.url import mask, redact, url_secrets

logger = log.get("tail")

TIMEOUT = 10.0


class Notifiers:
    """Runs the configured notifications for each alert change."""

    def __init__(
        self,
        command: str | None = None,
        webhook: str | None = None,
        history: Callable[[], Repository] | None = None,
        source: str = "-",
    ) -> None:
        self.argv = shlex.split(command) if command else None
        if command is not None and not self.argv:
            raise ConfigError("--alert-command is empty")
        if webhook is not None and not webhook.startswith(("http://", "https://")):
            raise ConfigError(
                f"--alert-webhook {redact(webhook)!r} is not an http(s) URL",
                hint="e.g. https://hooks.example.org/wm",
            )
        self.webhook = webhook
        self.open_history = history
        self.source = source
        self._queue: queue.Queue[AlertEvent | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._history: object = None

    def alert(self, event: AlertEvent) -> None:
        self._record(event)
        if not (self.argv or self.webhook):
            return
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, daemon=True)
            self._worker.start()
        self._queue.put(event)

    def _work(self) -> None:
        while (event := self._queue.get()) is not None:
            if self.argv:
                self._run_command(event)
            if self.webhook:
                self._post(event)

    def payload(self, event: AlertEvent) -> dict[str, object]:
        return {**event.to_dict(), "source": self.source, "messages": event.messages}

    def _run_command(self, event: AlertEvent) -> None:
        assert self.argv is not None
        env = {
            **os.environ,
            "WM_ALERT_STATE": event.state,
            "WM_ALERT_MESSAGE": event.messages[0],
            "WM_ALERT_VALUE": f"{event.value:.2f}",
            "WM_ALERT_TIME": event.to_dict()["time"],
            "WM_ALERT_SOURCE": self.source,
        }
        try:
            done = subprocess.run(
                self.argv,
                input=json.dumps(self.payload(event)).encode(),
                env=env,
                timeout=TIMEOUT,
                capture_output=True,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            logger.warning("alert command %s failed: %s", self.argv[0], exc)
            return
        if done.returncode != 0:
            logger.warning("alert command %s exited with %d", self.argv[0], done.returncode)

    def _post(self, event: AlertEvent) -> None:
        import requests

        assert self.webhook is not None
        try:
            response = requests.post(self.webhook, json=self.payload(event), timeout=TIMEOUT)
        except requests.RequestException as exc:  # it may name the URL's path and query
            logger.warning("alert webhook failed: %s", mask(str(exc), url_secrets(self.webhook)))
            return
        if response.status_code >= 400:
            logger.warning("alert webhook answered %d", response.status_code)

    def _record(self, event: AlertEvent) -> None:
        if self.open_history is None:
            return
        from website_monitor.logs.store import AlertHistory

        try:
            if self._history is None:
                self._history = AlertHistory(self.open_history(), self.source)
            assert isinstance(self._history, AlertHistory)
            self._history.record(event)
        except WebsiteMonitorError as exc:
            logger.warning("alert not recorded in the store: %s", exc.message)

    def close(self, timeout: float = 3 * TIMEOUT) -> None:
        """Wait (a bounded time) for notifications still queued, then close the history store."""
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout)
        from website_monitor.logs.store import AlertHistory

        if isinstance(self._history, AlertHistory):
            self._history.repository.close()
