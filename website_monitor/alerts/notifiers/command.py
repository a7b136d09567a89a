"""command: runs a program with the notification's JSON payload on its standard input.

The environment also carries `WM_DEDUP_KEY`, `WM_TRANSITION`, `WM_EVENT`
(open, remind, resolve), `WM_INCIDENT_ID`, `WM_INCIDENT_ALERT`,
`WM_INCIDENT_URL`, `WM_INCIDENT_KIND` and `WM_INCIDENT_SUMMARY`. Exit status 0
is acceptance; anything else (or no exit within `timeout`) is retried.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Callable, Sequence

from website_monitor.alerts.notifiers import Notification, Notifier, NotifyError, timeout_of
from website_monitor.alerts.tables import Table

Environment = Callable[[Notification], dict[str, str]]
Stdin = Callable[[Notification], bytes]


def incident_environment(notification: Notification) -> dict[str, str]:
    incident = notification.incident
    return {
        "WM_DEDUP_KEY": notification.dedup_key,
        "WM_TRANSITION": notification.transition,
        "WM_EVENT": notification.event,
        "WM_INCIDENT_ID": str(incident.get("id") or ""),
        "WM_INCIDENT_ALERT": str(incident.get("alert") or ""),
        "WM_INCIDENT_URL": str(incident.get("url") or ""),
        "WM_INCIDENT_KIND": str(incident.get("kind") or ""),
        "WM_INCIDENT_SUMMARY": notification.summary,
    }


class CommandNotifier(Notifier):
    type = "command"

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        timeout: float = 10.0,
        environment: Environment = incident_environment,
        stdin: Stdin = lambda notification: json.dumps(notification.payload).encode(),
    ) -> None:
        super().__init__(name, timeout)
        self.argv = list(argv)
        self.environment = environment
        self.stdin = stdin

    def send(self, notification: Notification) -> None:
        env = {**os.environ, **self.environment(notification)}
        try:
            done = subprocess.run(
                self.argv,
                input=self.stdin(notification),
                env=env,
                timeout=self.timeout,
                capture_output=True,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise NotifyError(f"{self.argv[0]} did not exit within {self.timeout:g}s") from None
        except OSError as exc:
            raise NotifyError(f"cannot run {self.argv[0]}: {exc.strerror}") from None
        if done.returncode != 0:
            said = " ".join(done.stderr.decode("utf-8", "replace").split())[:200]
            raise NotifyError(
                f"{self.argv[0]} exited with {done.returncode}" + (f": {said}" if said else "")
            )


def from_table(name: str, table: Table) -> CommandNotifier:
    raw = table.values.get("command")
    if isinstance(raw, str):
        table.read.add("command")
        try:
            argv = shlex.split(raw)
        except ValueError as exc:
            raise table.error("command", f"cannot split it into arguments: {exc}") from None
    else:
        argv = list(table.texts("command"))
    if not argv:
        raise table.error("command", "is missing or empty", hint='e.g. command = "page-me --now"')
    return CommandNotifier(name, argv, timeout=timeout_of(table))
