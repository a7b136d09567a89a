"""The rules' semantics: consecutive checks across hosts and locations (k of n), late checks,
`--lateness`, latency incidents, reminders, and incidents of a rule that was removed."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.alerting import (
    URL,
    Receiver,
    Timeline,
    alert_once,
    config,
    incidents,
    run,
    store,
    webhook_config,
)
from website_monitor.alerts.checks import Check, Failed, Opened, Resolved, Walk
from website_monitor.alerts.rules import AlertRule, Targets
from website_monitor.probes.codec import ProbeResult

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


def walk_of(rule: AlertRule, outcomes: list[tuple[int, bool, str | None]]) -> list[object]:
    """Feed (second, ok, location) checks, in the order given; the changes, by kind and time."""
    walk = Walk(rule, {}, incident_open=False)
    changes = []
    for i, (second, ok, location) in enumerate(outcomes):
        check = Check(
            i + 1, URL, T0 + timedelta(seconds=second), ok, None if ok else "HTTP 503", location
        )
        change = walk.feed(check)
        if change is not None:
            changes.append((type(change).__name__, second))
    return changes


def test_thresholds_over_checks_of_several_hosts_in_timestamp_order() -> None:
    rule = AlertRule("site down", Targets((URL,)), failure_threshold=3, success_threshold=2)
    # Two hosts' checks interleave by time; one sequence whatever the host.
    seq = [(0, True, "a"), (1, False, "b"), (2, False, "a"), (3, True, "b"), (4, False, "a")]
    seq += [(5, False, "b"), (6, False, "a"), (7, False, "b"), (8, True, "a"), (9, False, "b")]
    seq += [(10, True, "a"), (11, True, "b")]
    assert walk_of(rule, seq) == [
        ("Opened", 6),  # the third failure in a row (4, 5, 6)
        ("Failed", 7),
        ("Failed", 9),  # one good check does not resolve it
        ("Resolved", 11),  # the second good one in a row
    ]


def test_k_of_n_locations() -> None:
    rule = AlertRule(
        "site down", Targets((URL,)), failure_threshold=2, success_threshold=1,
        min_failed_locations=2,
    )  # fmt: skip
    seq = [(0, False, "eu"), (1, False, "us"), (2, False, "eu")]  # eu fails: 1 of 2
    seq += [(3, True, "us"), (4, False, "us"), (5, False, "us")]  # us fails too: 2 of 2
    seq += [(6, True, "eu"), (7, False, "us")]  # eu recovered: 1 of 2
    assert walk_of(rule, seq) == [("Opened", 5), ("Resolved", 6)]
    # Without the field, all checks are one sequence: eu's and us's failures add up.
    merged = AlertRule("site down", Targets((URL,)), failure_threshold=2, success_threshold=1)
    assert walk_of(merged, seq[:3]) == [("Opened", 1), ("Failed", 2)]


def test_a_check_older_than_one_walked_is_late() -> None:
    rule = AlertRule("site down", Targets((URL,)))
    walk = Walk(rule, {}, incident_open=False)
    for i, second in enumerate((0, 1, 2)):
        assert walk.feed(Check(i + 1, URL, T0 + timedelta(seconds=second), False, "x")) == (
            Opened(T0 + timedelta(seconds=2), T0, 3, "x") if second == 2 else None
        )
    assert walk.feed(Check(9, URL, T0 + timedelta(seconds=1.5), True, None)) is None
    assert walk.late == 1
    assert walk.feed(Check(10, URL, T0 + timedelta(seconds=3), False, "y")) == Failed(
        T0 + timedelta(seconds=3), "y"
    )
    assert isinstance(walk.feed(Check(11, URL, T0 + timedelta(seconds=4), True, None)), type(None))
    assert walk.feed(Check(12, URL, T0 + timedelta(seconds=5), True, None)) == Resolved(
        T0 + timedelta(seconds=5), T0 + timedelta(seconds=4)
    )


def test_lateness_waits_for_a_slower_host(sqlite_url: str, tmp_path: Path) -> None:
    wm_toml = webhook_config(tmp_path / "wm.toml", "http://127.0.0.1:9")
    now = datetime.now(timezone.utc)
    # Host a's checks fail; host b's failure, between them, is stored after them.
    fast = [ProbeResult(URL, now - timedelta(seconds=s), 503, 1.0) for s in (1.0, 0.2)]
    slow = [ProbeResult(URL, now - timedelta(seconds=0.6), 503, 1.0)]
    args = ("alert", "--once", "--lateness", "2s", "--config", str(wm_toml))
    store(sqlite_url, fast)
    run(*args, "-d", sqlite_url)
    store(sqlite_url, slow)
    run(*args, "-d", sqlite_url)
    assert incidents(sqlite_url) == []  # all three are held back: less than 2 s old
    time.sleep(3.5)
    out = run(*args, "-d", sqlite_url, code=1)  # the receiver is not there
    [incident] = incidents(sqlite_url)
    assert incident["failures"] == 3
    assert "counted as late" not in out
    # Without lateness, the slower host's check arrives after a newer one was walked.
    url = f"sqlite:///{tmp_path / 'other.db'}"
    store(url, fast)
    run("alert", "--once", "-d", url, "--config", str(wm_toml))
    store(url, slow)
    out = run("alert", "--once", "-d", url, "--config", str(wm_toml))
    assert "1 checks arrived after newer checks of their URL" in out
    assert incidents(url) == []


def test_latency_incidents(store_url: str, tmp_path: Path) -> None:
    with Receiver() as receiver:
        wm_toml = webhook_config(
            tmp_path / "wm.toml", receiver.url, extra='latency = "p95 > 500ms over 5m"'
        )
        now = datetime.now(timezone.utc)
        slow = [ProbeResult(URL, now - timedelta(seconds=10 + i), 200, 800.0) for i in range(20)]
        store(store_url, slow)
        alert_once(store_url, wm_toml)
        [incident] = incidents(store_url, "--kind", "latency")
        assert incident["state"] == "open" and incident["threshold"] == 500.0
        assert incident["peak"] == 800.0
        assert incident["last_error"] == "p95 800.0 ms over 5m > 500 ms"
        fast = [
            ProbeResult(URL, now - timedelta(seconds=40 + i * 0.6), 200, 90.0) for i in range(400)
        ]
        store(store_url, fast)
        alert_once(store_url, wm_toml)
        [incident] = incidents(store_url, "--kind", "latency")
        assert incident["state"] == "resolved"
        assert incidents(store_url, "--kind", "down") == []
        assert [b["event"] for b in receiver.bodies()] == ["open", "resolve"]
        assert receiver.bodies()[0]["summary"].startswith(f"site down: {URL} is slow: p95 800.0")


def test_reminders_while_open(sqlite_url: str, tmp_path: Path) -> None:
    with Receiver() as receiver:
        wm_toml = webhook_config(tmp_path / "wm.toml", receiver.url, extra='remind_every = "1s"')
        timeline = Timeline()
        store(sqlite_url, timeline([False] * 3))
        alert_once(sqlite_url, wm_toml)
        time.sleep(2.1)
        alert_once(sqlite_url, wm_toml)
        time.sleep(2.1)
        alert_once(sqlite_url, wm_toml)
        store(sqlite_url, timeline([True] * 2))
        alert_once(sqlite_url, wm_toml)
        bodies = receiver.bodies()
    [incident] = incidents(sqlite_url)
    key = incident["id"]
    assert [b["dedup_key"] for b in bodies] == [
        f"{key}:open",
        f"{key}:remind-1",
        f"{key}:remind-2",
        f"{key}:resolve",
    ]
    assert bodies[1]["event"] == "remind" and bodies[1]["summary"].startswith("still open: ")


def test_an_incident_of_a_removed_rule_is_resolved(sqlite_url: str, tmp_path: Path) -> None:
    with Receiver() as receiver:
        wm_toml = webhook_config(tmp_path / "wm.toml", receiver.url)
        store(sqlite_url, Timeline()([False] * 3))
        alert_once(sqlite_url, wm_toml)
        config(
            wm_toml,
            wm_toml.read_text().replace('name = "site down"', 'name = "renamed"'),
        )
        alert_once(sqlite_url, wm_toml)
        bodies = receiver.bodies()
    [incident] = incidents(sqlite_url)
    assert incident["state"] == "resolved"
    assert incident["last_error"] == "HTTP 503 (its rule is gone)"
    assert [b["event"] for b in bodies] == ["open", "resolve"]


def test_a_check_from_the_future_is_not_evaluated(sqlite_url: str, tmp_path: Path) -> None:
    wm_toml = webhook_config(tmp_path / "wm.toml", "http://127.0.0.1:9")
    ahead = datetime.now(timezone.utc) + timedelta(hours=1)
    store(sqlite_url, [ProbeResult(URL, ahead, 200, 5.0)])  # a host whose clock is wrong
    out = run("alert", "--once", "-d", sqlite_url, "--config", str(wm_toml))
    assert "1 checks are stamped more than 5 minutes ahead of the store's clock" in out
    store(sqlite_url, Timeline()([False] * 3))  # the other hosts' checks still count
    run("alert", "--once", "-d", sqlite_url, "--config", str(wm_toml), code=1)
    [incident] = incidents(sqlite_url)
    assert incident["failures"] == 3


def test_k_of_n_locations_from_the_stored_locations(sqlite_url: str, tmp_path: Path) -> None:
    """`wm alert` reads each result's stored location: one failing location of two opens
    nothing, the second opens the incident, one recovering resolves it. (The receiver
    takes the notifications: with none, whether a retry fell due between two runs would
    decide their exit codes.)"""
    receiver = Receiver()
    wm_toml = webhook_config(tmp_path / "wm.toml", receiver.url, extra="min_failed_locations = 2")
    start = datetime.now(timezone.utc) - timedelta(seconds=60)

    def at(second: int, ok: bool, location: str) -> ProbeResult:
        return ProbeResult(
            URL, start + timedelta(seconds=second), 200 if ok else 503, 5.0, location=location
        )

    with receiver:
        store(sqlite_url, [at(s, ok, "eu") for s, ok in ((0, False), (2, False), (4, False))])
        store(sqlite_url, [at(s, True, "us") for s in (1, 3, 5)])
        alert_once(sqlite_url, wm_toml)
        assert incidents(sqlite_url) == []  # one location of two fails
        store(sqlite_url, [at(s, False, "us") for s in (7, 9, 11)])
        alert_once(sqlite_url, wm_toml)
        [incident] = incidents(sqlite_url)
        # opened by us's third failure; it started with the first failure of the outage
        assert (incident["state"], incident["started_at"]) == ("open", start.isoformat())
        store(sqlite_url, [at(s, True, "eu") for s in (12, 14)])
        alert_once(sqlite_url, wm_toml)
        [incident] = incidents(sqlite_url)
        assert incident["state"] == "resolved"
        assert [b["event"] for b in receiver.bodies()] == ["open", "resolve"]
