"""A site that fails and recovers on a script, probed every second by `wm probe`, watched by
`wm alert`: on both backends (direct writes) and through Kafka and `wm flush`.

Exactly one incident: opened at the third failed check, resolved at the second good one,
with one open and one resolve notification at a local webhook receiver.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerting import (
    FlappingSite,
    Receiver,
    events_of,
    incidents,
    stored_checks,
    transitions,
    webhook_config,
)
from tests.services import flush_args, terminate_cleanly, wm_process

#: Three good answers, four failures, then good ones for as long as it is asked.
SCRIPT = [True] * 3 + [False] * 4 + [True]


@contextlib.contextmanager
def probing(args: list[str]) -> Iterator[None]:
    with wm_process(*args) as process:
        yield
        terminate_cleanly(process)


def check_one_incident(store_url: str, site: FlappingSite, receiver: Receiver) -> None:
    [incident] = incidents(store_url)
    assert incident["kind"] == "down"
    assert incident["url"] == site.url
    assert incident["state"] == "resolved"
    assert incident["failures"] == 4
    assert incident["last_error"] == "HTTP 503"

    walked = stored_checks(store_url, site.url)
    outcomes = [ok for _, ok in walked]
    first_failure = outcomes.index(False)
    assert outcomes[first_failure : first_failure + 4] == [False] * 4
    assert incident["started_at"] == walked[first_failure][0].isoformat()
    moments = transitions(store_url, incident["id"])
    # opened at the third failed check, resolved at the second good one after them
    assert moments.at("open") == walked[first_failure + 2][0]
    assert moments.at("resolve") == walked[first_failure + 5][0]
    assert incident["resolved_at"] == walked[first_failure + 4][0].isoformat()

    bodies = receiver.bodies()
    key = incident["id"]
    assert events_of(bodies) == [(f"{key}:open", "open"), (f"{key}:resolve", "resolve")]
    assert bodies[0]["at"] == moments.at("open").isoformat()
    assert bodies[0]["incident"]["failures"] == 3
    assert bodies[1]["incident"]["state"] == "resolved"
    assert [n["state"] for n in incident["notified"]] == ["sent", "sent"]
    assert [n["dedup_key"] for n in incident["notified"]] == [f"{key}:open", f"{key}:resolve"]


def run_flapping(store_url: str, tmp_path: Path, *, kafka: tuple[str, str] | None = None) -> None:
    with FlappingSite(SCRIPT) as site, Receiver() as receiver:
        config = webhook_config(tmp_path / "wm.toml", receiver.url, url=site.url)
        probe = ["probe", "-u", site.url, "--every", "1s", "--timeout", "5s"]
        processes: list[list[str]] = []
        if kafka is None:
            probe += ["-d", store_url]
        else:
            bootstrap, topic = kafka
            probe += ["-b", bootstrap, "-t", topic]
            processes.append(flush_args(bootstrap, topic, store_url, f"group-{topic}"))
        processes.append(probe)
        with contextlib.ExitStack() as stack:
            for args in processes:
                stack.enter_context(probing(args))
            with wm_process(
                "alert", "--every", "1s", "-d", store_url, "--config", str(config)
            ) as alert:
                receiver.wait_for(2, timeout=120)
                stderr = terminate_cleanly(alert)
        assert "Traceback" not in stderr, stderr
        check_one_incident(store_url, site, receiver)


def test_a_flapping_site_is_one_incident(store_url: str, tmp_path: Path) -> None:
    run_flapping(store_url, tmp_path)


@pytest.mark.slow
def test_a_flapping_site_through_kafka_and_flush(
    kafka_bootstrap: str, topic: str, pg_url: str, tmp_path: Path
) -> None:
    run_flapping(pg_url, tmp_path, kafka=(kafka_bootstrap, topic))
