"""`wm alert test`: a notification that says it is a test, sent straight to one notifier."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from website_monitor.alerts.incidents import Incident, payload
from website_monitor.alerts.models import SentTest
from website_monitor.alerts.notifiers import Notification, Notifier


def send_test(notifier: Notifier) -> SentTest:
    """Send it (raises NotifyError if the receiver refuses it)."""
    now = datetime.now(timezone.utc)
    incident = Incident.new(
        "down",
        "test",
        now,
        url="https://example.invalid/wm-alert-test",
        last_error="this is a test notification from wm alert test",
    )
    incident.id = f"test-{uuid.uuid4()}"
    body = payload(incident, "test", now)
    body["test"] = True
    body["summary"] = f"test notification from website-monitor to {notifier.name!r}"
    notification = Notification(body["dedup_key"], "test", body)
    notifier.send(notification)
    return SentTest(
        notifier=notifier.name, type=notifier.type, dedup_key=notification.dedup_key, sent=True
    )
