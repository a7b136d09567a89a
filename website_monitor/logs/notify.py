"""Telling someone about a high-traffic alert: the same notifiers and incidents as `wm alert`.

Each alert change is an incident transition (kind `traffic`, in the store's
`incidents`, unless `--no-record-alerts`) whose notifications go through the
outbox to `--alert-command`, `--alert-webhook` (with the JSON payload they
always had) and the `[[notifier]]`s of the `[[alert]]` rules whose `sources`
match `--source`. A background thread delivers them, in order (a recovery
never overtakes its trigger), each with a timeout and retried with backoff, so
a slow receiver never stalls the monitor; failures are logged, never fatal.
Without a store the same notifiers are called from memory, with retries.

When `wm tail` stops with an alert open, the incident is closed as abandoned
at that time; one left open by a `wm tail` that was killed is closed when the
next one of the same source starts.
"""

from __future__ import annotations

import json
import queue
import shlex
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from website_monitor import log
from website_monitor.alerts import incidents
from website_monitor.alerts.notifiers import Notification, Notifier, NotifyError
from website_monitor.alerts.notifiers.command import CommandNotifier
from website_monitor.alerts.notifiers.webhook import WebhookNotifier
from website_monitor.alerts.outbox import MAX_ATTEMPTS, Outbox, backoff
from website_monitor.alerts.rules import Alerting, check_ready
from website_monitor.errors import ConfigError, WebsiteMonitorError
from website_monitor.logs.alerts import AlertEvent
from website_monitor.store.base import Repository
from website_monitor.store.url import redact

logger = log.get("tail")

TIMEOUT = 10.0
#: How often the sender looks at the outbox when nothing woke it.
TICK = 1.0
#: How long the sender waits, unless an alert or the end comes first, before it opens the
#: store and closes what a killed run left open.
STARTUP = 1.0


def legacy_environment(notification: Notification) -> dict[str, str]:
    """The WM_ALERT_* variables `--alert-command` has always had."""
    return dict(notification.payload.get("environment") or {})


def legacy_stdin(notification: Notification) -> bytes:
    return json.dumps(notification.payload.get("stdin")).encode()


class Notifiers:
    """Records each alert change as an incident transition and delivers its notifications."""

    def __init__(
        self,
        command: str | None = None,
        webhook: str | None = None,
        history: Callable[[], Repository] | None = None,
        source: str = "-",
        alerting: Alerting | None = None,
    ) -> None:
        argv = shlex.split(command) if command else None
        if command is not None and not argv:
            raise ConfigError("--alert-command is empty")
        if webhook is not None and not webhook.startswith(("http://", "https://")):
            raise ConfigError(
                f"--alert-webhook {redact(webhook)!r} is not an http(s) URL",
                hint="e.g. https://hooks.example.org/wm",
            )
        self.source = source
        #: The options' notifiers, named after the source: no other process sends for them.
        self.legacy: dict[str, Notifier] = {}
        if argv:
            name = f"{source} --alert-command"
            self.legacy[name] = CommandNotifier(
                name, argv, timeout=TIMEOUT, environment=legacy_environment, stdin=legacy_stdin
            )
        if webhook:
            name = f"{source} --alert-webhook"
            self.legacy[name] = WebhookNotifier(name, webhook, timeout=TIMEOUT)
        self.notifiers: dict[str, Notifier] = dict(self.legacy)
        self.severity = "page"
        if alerting is not None:
            rules = alerting.traffic_rules(source)
            if rules and all(rule.severity == "notify" for rule in rules):
                self.severity = "notify"
            for rule in rules:
                self.notifiers.update((name, alerting.notifiers[name]) for name in rule.notify)
        check_ready(self.notifiers.values())
        self.open_history = history
        self._history: Any = None
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._ready = threading.Event()
        self._sender: threading.Thread | None = None
        self._memory_sender: threading.Thread | None = None
        self._memory: queue.Queue[tuple[Notifier, Notification] | None] = queue.Queue()
        self._current: incidents.Incident | None = None
        if history is not None:
            self._sender = threading.Thread(target=self._send_outbox, daemon=True)
            self._sender.start()

    # --- recording -----------------------------------------------------------------------

    def payload(self, event: AlertEvent) -> dict[str, object]:
        """The JSON `--alert-webhook` posts and `--alert-command` reads."""
        return {**event.to_dict(), "source": self.source, "messages": event.messages}

    def _payloads(self, event: AlertEvent) -> dict[str, dict[str, Any]]:
        body = self.payload(event)
        env = {
            "WM_ALERT_STATE": event.state,
            "WM_ALERT_MESSAGE": event.messages[0],
            "WM_ALERT_VALUE": f"{event.value:.2f}",
            "WM_ALERT_TIME": event.to_dict()["time"],
            "WM_ALERT_SOURCE": self.source,
        }
        return {
            name: {"stdin": body, "environment": env}
            if isinstance(notifier, CommandNotifier)
            else body
            for name, notifier in self.legacy.items()
        }

    def alert(self, event: AlertEvent) -> None:
        if self.open_history is not None and self._record(event):
            self._wake.set()
            return
        self._send_from_memory(event)

    def _record(self, event: AlertEvent) -> bool:
        """Store the transition with its notifications; whether it was stored."""
        from website_monitor.logs.store import AlertHistory

        self._wake.set()
        self._ready.wait(TIMEOUT)  # the sender closes a killed run's alert first
        try:
            if self._history is None:
                assert self.open_history is not None
                self._history = AlertHistory(self.open_history(), self.source, self.severity)
            assert isinstance(self._history, AlertHistory)
            self._history.record(event, sorted(self.notifiers), self._payloads(event))
            return True
        except WebsiteMonitorError as exc:
            logger.warning("alert not recorded in the store: %s", exc.message)
            return False

    # --- delivering ----------------------------------------------------------------------

    def _send_outbox(self) -> None:
        """The sender thread: closes what a killed run left open, then delivers."""
        from website_monitor.logs.store import AlertHistory

        outbox: Outbox | None = None
        # Not at once: a wm tail that cannot start (its publisher's store is down) says so
        # in one line, without this thread's warning about the same store.
        self._wake.wait(STARTUP)
        try:
            assert self.open_history is not None
            repository = self.open_history()
            closed = AlertHistory(repository, self.source).abandon_stale(skip=list(self.legacy))
            if closed:
                logger.warning(
                    "closed %d alert(s) of %s left open as abandoned", closed, self.source
                )
            outbox = Outbox(repository, self.notifiers, max_attempts=MAX_ATTEMPTS)
        except WebsiteMonitorError as exc:
            logger.warning("alert history unavailable: %s", exc.message)
        finally:
            self._ready.set()
        if outbox is None:
            return
        try:
            while True:
                stopping = self._stopping.is_set()
                try:
                    outbox.drain()
                except WebsiteMonitorError as exc:
                    logger.warning("alert notifications: %s", exc.message)
                if stopping:
                    return
                self._wake.wait(TICK)
                self._wake.clear()
        finally:
            outbox.repository.close()

    def _send_from_memory(self, event: AlertEvent) -> None:
        """Without a store: the same notifications, queued in memory."""
        if not self.notifiers:
            return
        moment = datetime.fromtimestamp(event.time, timezone.utc)
        if event.state == "triggered":
            self._current = incidents.Incident.new(
                "traffic",
                "high traffic",
                datetime.fromtimestamp(event.started_at, timezone.utc),
                source=self.source,
                severity=self.severity,
                threshold=event.threshold,
            )
        current = self._current
        if current is None:
            return
        current.peak = event.peak
        transition = "open" if event.state == "triggered" else "resolve"
        if transition == "resolve":
            current.state, current.resolved_at, current.open_key = "resolved", moment, None
            self._current = None
        generic = incidents.payload(current, transition, moment)
        payloads = self._payloads(event)
        for name, notifier in self.notifiers.items():
            body = payloads.get(name, generic)
            self._memory.put((notifier, Notification(generic["dedup_key"], transition, body)))
        if self._memory_sender is None:
            self._memory_sender = threading.Thread(target=self._send_memory, daemon=True)
            self._memory_sender.start()

    def _send_memory(self) -> None:
        while (item := self._memory.get()) is not None:
            notifier, notification = item
            for attempt in range(1, MAX_ATTEMPTS + 1):
                try:
                    notifier.send(notification)
                    break
                except NotifyError as exc:
                    logger.warning("alert notification to %s failed: %s", notifier.name, exc.reason)
                    if attempt == MAX_ATTEMPTS or self._stopping.is_set():
                        break
                    self._stopping.wait(backoff(attempt))

    def close(self, timeout: float = 3 * TIMEOUT) -> None:
        """Close an alert still open as abandoned, deliver what is queued (a bounded time),
        then close the store."""
        from website_monitor.logs.store import AlertHistory

        if isinstance(self._history, AlertHistory):
            try:
                self._history.abandon(skip=list(self.legacy))
            except WebsiteMonitorError as exc:
                logger.warning("open alert not closed in the store: %s", exc.message)
        deadline = time.monotonic() + timeout
        self._memory.put(None)
        self._stopping.set()
        self._wake.set()
        for worker in (self._sender, self._memory_sender):
            if worker is not None:
                worker.join(max(0.0, deadline - time.monotonic()))
        if isinstance(self._history, AlertHistory):
            self._history.repository.close()
