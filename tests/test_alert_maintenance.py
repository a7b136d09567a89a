"""Maintenance windows and silences: incidents are recorded and marked, nothing is sent
while they last, and an incident still open afterwards is announced then."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.alerting import (
    URL,
    Receiver,
    Timeline,
    alert_once,
    incidents,
    run,
    store,
    transitions,
    webhook_config,
)
from website_monitor.alerts import rules

DOWN, UP = [False] * 3, [True] * 2


def window(start: datetime, duration: str, url: str = URL) -> str:
    return f"""
[[maintenance]]
name = "deploy"
urls = ["{url}"]
start = "{start.isoformat()}"
duration = "{duration}"
"""


def test_a_window_records_the_incident_and_sends_nothing(store_url: str, tmp_path: Path) -> None:
    now = datetime.now(timezone.utc)
    with Receiver() as receiver:
        wm_toml = webhook_config(
            tmp_path / "wm.toml", receiver.url, extra=window(now - timedelta(minutes=30), "1h")
        )
        timeline = Timeline()
        store(store_url, timeline(DOWN))
        alert_once(store_url, wm_toml)
        [opened] = incidents(store_url)
        store(store_url, timeline(UP))
        alert_once(store_url, wm_toml)
        assert receiver.received == []
    [incident] = incidents(store_url)
    assert opened["state"] == "open" and opened["maintenance"] is True
    assert incident["state"] == "resolved" and incident["maintenance"] is True
    assert incident["failures"] == 3
    assert [(n["transition"], n["state"], n["error"]) for n in incident["notified"]] == [
        ("open", "suppressed", "maintenance"),
        ("resolve", "suppressed", "not announced"),
    ]
    assert [r["suppressed"] for r in transitions(store_url, incident["id"]).rows] == [
        "maintenance",
        None,
    ]


def test_an_incident_still_open_after_the_window_is_announced(
    store_url: str, tmp_path: Path
) -> None:
    now = datetime.now(timezone.utc)
    with Receiver() as receiver:
        # The checks fail inside the window; it is over when wm alert looks.
        wm_toml = webhook_config(
            tmp_path / "wm.toml", receiver.url, extra=window(now - timedelta(minutes=10), "5m")
        )
        timeline = Timeline(start=now - timedelta(minutes=8))
        store(store_url, timeline(DOWN))
        alert_once(store_url, wm_toml)
        [body] = receiver.bodies()
        store(store_url, timeline(UP))
        alert_once(store_url, wm_toml)
        bodies = receiver.bodies()
    [incident] = incidents(store_url)
    assert body["event"] == "open" and body["incident"]["maintenance"] is True
    assert [b["dedup_key"] for b in bodies] == [
        f"{incident['id']}:open",
        f"{incident['id']}:resolve",
    ]
    assert [n["state"] for n in incident["notified"]] == ["sent", "sent"]


def test_a_silence_holds_back_notifications_until_lifted(store_url: str, tmp_path: Path) -> None:
    with Receiver() as receiver:
        wm_toml = webhook_config(tmp_path / "wm.toml", receiver.url)
        silenced = json.loads(
            run("alert", "silence", URL, "--for", "1h", "--reason", "moving racks", "-d", store_url)
        )["silence"]
        assert silenced["url"] == URL and silenced["reason"] == "moving racks"
        ends = datetime.fromisoformat(silenced["ends_at"]) - datetime.fromisoformat(
            silenced["starts_at"]
        )
        assert ends == timedelta(hours=1)
        timeline = Timeline()
        store(store_url, timeline(DOWN))
        alert_once(store_url, wm_toml)
        assert receiver.received == []
        [incident] = incidents(store_url)
        assert incident["maintenance"] is False
        assert [(n["state"], n["error"]) for n in incident["notified"]] == [
            ("suppressed", "silenced")
        ]
        run("alert", "silence", URL, "--for", "0", "-d", store_url)
        alert_once(store_url, wm_toml)
        [body] = receiver.bodies()
        assert body["dedup_key"] == f"{incident['id']}:open"
        store(store_url, timeline(UP))
        alert_once(store_url, wm_toml)
        assert [b["event"] for b in receiver.bodies()] == ["open", "resolve"]


def test_recurring_windows() -> None:
    data = {
        "maintenance": [
            {"url_pattern": "https://*.example.org/*", "every": "sun 02:00", "duration": "2h"},
            {"urls": ["https://a.example/"], "every": "daily 23:30", "duration": "1h"},
        ]
    }
    sunday, daily = rules.parse(data).maintenance
    at = datetime(2026, 11, 29, 2, 30, tzinfo=timezone.utc)  # a Sunday
    assert sunday.active("https://shop.example.org/health", at)
    assert not sunday.active("https://shop.example.com/health", at)
    assert not sunday.active("https://shop.example.org/health", at + timedelta(hours=2))
    assert not sunday.active("https://shop.example.org/health", at - timedelta(days=1))
    assert sunday.active("https://shop.example.org/health", at + timedelta(days=7))
    late = datetime(2026, 11, 30, 0, 15, tzinfo=timezone.utc)  # past midnight, in the window
    assert daily.active("https://a.example/", late)
    assert not daily.active("https://a.example/", late + timedelta(minutes=15))
