"""`wm tail`'s high-traffic alerts are incidents (kind traffic) with the same notifiers.

A store made before incidents upgrades with its alerts intact; `wm alerts` prints what it
always printed; an alert open when `wm tail` stops is closed as abandoned, and one left
open by a killed `wm tail` is closed when the next one of the source starts.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tests import traffic
from tests.alerting import Receiver, config, incidents, run
from tests.services import wait_until
from website_monitor import features
from website_monitor.logs.store import ABANDONED
from website_monitor.store import migrate, open_store


def store_of_today(store_url: str) -> None:
    """The schema as it was before incidents: no alerting tables, the `alerts` table."""
    plan = [
        (feature.name, [m for m in feature.migrations if m.name != "0005_alerts_to_incidents"])
        for feature in features.FEATURES
        if feature.name != "alerts"
    ]
    with open_store(store_url, migrate=False) as repository, repository.transaction() as tx:
        migrate.apply(tx, plan)


def record_as_before(store_url: str, rows: list[tuple[Any, ...]]) -> None:
    """Alerts written with the statement the alert history used before incidents."""
    with open_store(store_url, migrate=False) as repository:
        mark = repository.placeholder
        for row in rows:
            repository.execute(
                "INSERT INTO alerts (id, source, kind, started_at, ended_at, peak, threshold)"
                f" VALUES ({mark}, {mark}, {mark}, {mark}, {mark}, {mark}, {mark})",
                row,
            )


def test_a_store_of_today_upgrades_with_its_alerts(store_url: str) -> None:
    store_of_today(store_url)
    start = datetime(2026, 11, 23, 10, 0, 0, tzinfo=timezone.utc)
    ended, still_open = str(uuid.uuid4()), str(uuid.uuid4())
    record_as_before(
        store_url,
        [
            (ended, "web1", "high_traffic", start, start + timedelta(minutes=4), 12.3456, 10.0),
            (still_open, "web2", "high_traffic", start + timedelta(hours=1), None, 30.0, 20.0),
        ],
    )
    with open_store(store_url) as repository:  # migrates
        tables = {r["name"] for r in repository.query(repository.dialect.tables_query)}
        assert "alerts" not in tables and "incidents" in tables
    before = {
        "alerts": [
            {
                "id": ended,
                "source": "web1",
                "kind": "high_traffic",
                "started_at": "2026-11-23T10:00:00Z",
                "ended_at": "2026-11-23T10:04:00Z",
                "peak": 12.346,
                "threshold": 10.0,
            },
            {
                "id": still_open,
                "source": "web2",
                "kind": "high_traffic",
                "started_at": "2026-11-23T11:00:00Z",
                "ended_at": None,
                "peak": 30.0,
                "threshold": 20.0,
            },
        ]
    }
    assert json.loads(run("alerts", "-d", store_url)) == before
    listed = incidents(store_url, "--kind", "traffic")
    assert [(i["id"], i["source"], i["state"], i["kind"]) for i in listed] == [
        (ended, "web1", "resolved", "traffic"),
        (still_open, "web2", "open", "traffic"),
    ]
    assert listed[0]["started_at"] == start.isoformat()
    assert listed[0]["resolved_at"] == (start + timedelta(minutes=4)).isoformat()
    assert incidents(store_url, "--kind", "down") == []


def _tail(log: Path, store_url: str, source: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable, "-m", "website_monitor", "tail", str(log), "--from-start",
            "--source", source, *traffic.TAIL_OPTIONS, "-d", store_url, *args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def _open_alerts(store_url: str, source: str) -> int:
    with open_store(store_url) as repository:
        mark = repository.placeholder
        return int(
            repository.scalar(
                "SELECT count(*) FROM incidents WHERE kind = 'traffic' AND state = 'open'"
                f" AND source = {mark}",
                (source,),
            )
        )


def _states(store_url: str, source: str) -> list[str]:
    with open_store(store_url) as repository:
        mark = repository.placeholder
        rows = repository.query(
            "SELECT state FROM incidents WHERE kind = 'traffic' AND source = "
            f"{mark} ORDER BY started_at",
            (source,),
        )
    return [str(row["state"]) for row in rows]


def test_same_notifiers_and_an_alert_closed_as_abandoned(store_url: str, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    traffic.access_log(log)
    with Receiver() as ops, Receiver() as legacy:
        wm_toml = config(
            tmp_path / "wm.toml",
            f"""
[[notifier]]
name = "ops"
type = "webhook"
url = "{ops.url}/ops"

[[alert]]
name = "busy web servers"
sources = ["web*"]
notify = ["ops"]
""",
        )
        process = _tail(
            log, store_url, "web1", "--config", str(wm_toml), "--alert-webhook", legacy.url
        )
        try:
            ops.wait_for(3)  # open, resolve, open: the second burst goes on at the log's end
            legacy.wait_for(3)
        finally:
            stopped_at = datetime.now(timezone.utc)
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
        ops.wait_for(4)
        generic = ops.bodies()
        old_style = legacy.bodies()
    # The options' webhook gets the payload it always had, and nothing when abandoned.
    assert [b["state"] for b in old_style] == ["triggered", "recovered", "triggered"]
    assert {"type", "state", "time", "hits_per_second", "threshold", "started_at", "peak"} <= set(
        old_style[0]
    )
    assert old_style[0]["source"] == "web1" and old_style[0]["messages"]
    # The [[notifier]] of the matching rule gets the incident's transitions.
    assert [b["event"] for b in generic] == ["open", "resolve", "open", "resolve"]
    assert generic[0]["incident"]["kind"] == "traffic"
    assert generic[2]["dedup_key"].endswith(":open") and generic[3]["dedup_key"].endswith(
        ":resolve"
    )
    assert generic[3]["incident"]["last_error"] == ABANDONED

    listed = incidents(store_url, "--kind", "traffic")
    assert [i["state"] for i in listed] == ["resolved", "resolved"]
    abandoned = listed[1]
    assert abandoned["last_error"] == ABANDONED
    ended = datetime.fromisoformat(abandoned["resolved_at"])
    assert stopped_at <= ended <= stopped_at + timedelta(seconds=30)
    alerts = json.loads(run("alerts", "-d", store_url))["alerts"]
    assert [a["id"] for a in alerts] == [i["id"] for i in listed]
    assert alerts[1]["ended_at"] is not None  # closed, with the time it was abandoned
    names = {n["notifier"] for n in abandoned["notified"]}
    assert names == {"ops", "web1 --alert-webhook"}
    assert [n["transition"] for n in abandoned["notified"] if n["notifier"] != "ops"] == ["open"]


def test_an_alert_left_open_by_a_killed_tail_is_closed_by_the_next(
    store_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "access.log"
    traffic.access_log(log)
    killed = _tail(log, store_url, "web9")
    try:
        # the first burst over and the second one's alert open (the log holds two)
        assert wait_until(lambda: _states(store_url, "web9") == ["resolved", "open"], 60, 0.2)
    finally:
        killed.kill()
        killed.communicate(timeout=30)
    assert _open_alerts(store_url, "web9") == 1  # nobody could close it

    quiet = tmp_path / "quiet.log"
    quiet.write_text(traffic.clf(datetime.now(timezone.utc), "/", 200, 10) + "\n")
    before = datetime.now(timezone.utc)
    next_tail = _tail(quiet, store_url, "web9")
    try:
        assert wait_until(lambda: _open_alerts(store_url, "web9") == 0, 30, step=0.2)
    finally:
        next_tail.send_signal(signal.SIGTERM)
        _, stderr = next_tail.communicate(timeout=60)
    assert "left open as abandoned" in stderr
    recovered, closed = [i for i in incidents(store_url, "--kind", "traffic")]
    assert recovered["last_error"] is None  # the burst that ended before the kill
    assert closed["last_error"] == ABANDONED
    assert datetime.fromisoformat(closed["resolved_at"]) >= before - timedelta(seconds=1)
