"""Notifications through the outbox, against real processes: a `wm alert` killed while
sending or before it could send, two `wm alert` on one store, retries and giving up."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.alerting import (
    Receiver,
    Script,
    Timeline,
    alert_once,
    events_of,
    incidents,
    run,
    store,
    webhook_config,
)
from tests.services import free_port, terminate_cleanly, wait_until, wm_process
from website_monitor.store import open_store

DOWN = [False, False, False]
UP = [True, True]


def alert_args(store_url: str, config: Path, *extra: str) -> list[str]:
    return ["alert", "--every", "0.5s", "-d", store_url, "--config", str(config), *extra]


def attempts(store_url: str) -> int:
    with open_store(store_url) as repository:
        return int(repository.scalar("SELECT coalesce(sum(attempts), 0) FROM notifications"))


def test_killed_while_sending_the_same_notification_comes_again(
    store_url: str, tmp_path: Path
) -> None:
    timeline = Timeline()
    store(store_url, timeline(DOWN))
    with Receiver(Script(hold=True)) as receiver:
        config = webhook_config(tmp_path / "wm.toml", receiver.url)
        with wm_process(*alert_args(store_url, config)) as alert:
            receiver.wait_for(1)  # the open notification arrived, and got no answer
            alert.send_signal(signal.SIGKILL)
            alert.wait(10)
        receiver.script.release.set()
        alert_once(store_url, config)  # a new wm alert: the sender it finds is gone
        store(store_url, timeline(UP))
        alert_once(store_url, config)
        received = receiver.received
    [incident] = incidents(store_url)
    key = incident["id"]
    assert events_of([r.json for r in received]) == [
        (f"{key}:open", "open"),
        (f"{key}:open", "open"),
        (f"{key}:resolve", "resolve"),
    ]
    assert received[0].body == received[1].body  # the same notification, again
    assert [r.headers["X-WM-Dedup-Key"] for r in received] == [f"{key}:open"] * 2 + [
        f"{key}:resolve"
    ]
    assert [(n["transition"], n["state"]) for n in incident["notified"]] == [
        ("open", "sent"),
        ("resolve", "sent"),
    ]


def test_killed_between_storing_and_sending_nothing_is_missing(
    store_url: str, tmp_path: Path
) -> None:
    port = free_port()
    config = webhook_config(tmp_path / "wm.toml", f"http://127.0.0.1:{port}")
    timeline = Timeline()
    store(store_url, timeline(DOWN))
    with wm_process(*alert_args(store_url, config)) as alert:
        # Stored, and not sent: nothing listens on the receiver's port yet.
        assert wait_until(lambda: attempts(store_url) >= 1, 30)
        alert.send_signal(signal.SIGKILL)
        alert.wait(10)
    [incident] = incidents(store_url)
    assert [(n["transition"], n["state"]) for n in incident["notified"]] == [("open", "pending")]
    assert "cannot connect to http://127.0.0.1" in incident["notified"][0]["error"]
    with Receiver(port=port) as receiver, wm_process(*alert_args(store_url, config)) as alert:
        receiver.wait_for(1)
        store(store_url, timeline(UP))
        receiver.wait_for(2)
        terminate_cleanly(alert)
        bodies = receiver.bodies()
    key = incident["id"]
    assert events_of(bodies) == [(f"{key}:open", "open"), (f"{key}:resolve", "resolve")]


def test_two_wm_alert_send_each_transition_once(store_url: str, tmp_path: Path) -> None:
    with Receiver(Script(delay=0.2)) as receiver:
        config = webhook_config(tmp_path / "wm.toml", receiver.url)
        args = alert_args(store_url, config, "--every", "0.2s")
        timeline = Timeline(step=0.01)
        store(store_url, [])  # the store made before both start, as a deployment has it
        with wm_process(*args) as first, wm_process(*args) as second:
            for phase, expected in ((DOWN, 1), (UP, 2), (DOWN, 3), (UP, 4)):
                store(store_url, timeline(phase))
                receiver.wait_for(expected)
            time.sleep(2.0)  # time for a duplicate to show up, if there were one
            errors = [terminate_cleanly(p) for p in (first, second)]
        bodies = receiver.bodies()
    assert not any("Traceback" in e for e in errors), errors
    keys = [b["dedup_key"] for b in bodies]
    assert len(keys) == 4 and len(set(keys)) == 4
    found = incidents(store_url)
    assert len(found) == 2  # two outages, one incident each
    assert [e for _, e in events_of(bodies)] == ["open", "resolve", "open", "resolve"]
    assert {k.rsplit(":", 1)[0] for k in keys} == {i["id"] for i in found}


def test_a_refused_delivery_is_retried_until_accepted(store_url: str, tmp_path: Path) -> None:
    timeline = Timeline()
    store(store_url, timeline(DOWN))
    with Receiver(Script(fail=2, fail_status=503)) as receiver:
        config = webhook_config(tmp_path / "wm.toml", receiver.url)
        with wm_process(*alert_args(store_url, config)) as alert:
            receiver.wait_for(3, timeout=30)
            stderr = terminate_cleanly(alert)
        keys = {r.headers["X-WM-Dedup-Key"] for r in receiver.received}
    assert len(keys) == 1  # three attempts of one notification
    assert stderr.count("answered HTTP 503: busy") == 2
    assert "attempt 1 of 10, next in 1s" in stderr and "attempt 2 of 10, next in 2s" in stderr
    [incident] = incidents(store_url)
    [notified] = incident["notified"]
    assert (notified["state"], notified["attempts"], notified["error"]) == ("sent", 3, None)


def test_after_the_last_attempt_the_failure_is_visible(store_url: str, tmp_path: Path) -> None:
    timeline = Timeline()
    store(store_url, timeline(DOWN))
    with Receiver(Script(fail=100, fail_status=500)) as receiver:
        config = webhook_config(tmp_path / "wm.toml", receiver.url)
        out = run(
            "alert", "--once", "--max-attempts", "2", "-d", store_url, "--config", str(config),
            code=1,
        )  # fmt: skip
        assert out.strip().splitlines()[-1] == (
            "Error: 1 notification attempts failed"
            " (hint: see the errors above; the next wm alert retries them)"
        )
        time.sleep(1.5)  # the backoff after the first attempt
        run(
            "alert", "--once", "--max-attempts", "2", "-d", store_url, "--config", str(config),
            code=1,
        )  # fmt: skip
        assert len(receiver.received) == 2
    [incident] = incidents(store_url)
    [notified] = incident["notified"]
    assert notified["state"] == "failed"
    assert notified["attempts"] == 2
    assert notified["error"].endswith("answered HTTP 500: busy")
    from website_monitor.alerts.metrics import incident_metrics

    with open_store(store_url) as repository:
        families = {f.name: f for f in incident_metrics(repository)}
    [sample] = families["wm_notifications_failed"].samples
    assert (sample.labels, sample.value) == ({"notifier": "ops"}, 2.0)
