"""`wm tail --ship URL`: raw lines posted to a real `wm serve`, through its outages."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests import traffic
from tests.services import free_port
from tests.webserver import serving
from website_monitor.logs import ship
from website_monitor.store import open_store


def _tail(log: Path, url: str, *args: str, token: str | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "WM_SERVE_TOKEN"}
    if token:
        env["WM_SERVE_TOKEN"] = token
    return subprocess.Popen(
        [
            sys.executable, "-m", "website_monitor", "tail", str(log), "--from-start",
            "--exit-at-eof", "--no-record-alerts", "--source", traffic.SOURCE, "--ship", url,
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )  # fmt: skip


def test_shipped_lines_are_what_publish_stores(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    traffic.access_log(log)
    direct = f"sqlite:///{tmp_path / 'direct.db'}"
    traffic.tail_publish(direct, log)
    shipped = f"sqlite:///{tmp_path / 'shipped.db'}"
    with serving(shipped, token="ship-token") as served:
        process = _tail(log, served.base + "/api/logs", token="ship-token")
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
        assert served.get("/api/hits").json() == traffic.cli_json("stats", "--hits", "-d", direct)
    # The one bad line of the sample log was rejected by the server, and said so.
    assert "1 lines of" in stderr and "rejected" in stderr


def test_nothing_is_lost_while_the_server_is_away(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    hits = traffic.access_log(log)
    port = free_port()
    process = _tail(log, f"http://127.0.0.1:{port}/api/logs")
    time.sleep(2.0)  # the first batches fail: nothing listens yet
    store = f"sqlite:///{tmp_path / 'late.db'}"
    with serving(store, bind=f"127.0.0.1:{port}") as served:
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
        assert "retrying in" in stderr
        total = sum(s["hits"] for s in served.get("/api/hits").json()["hits"])
    assert total == len(hits)


def test_a_refused_token_is_an_error_at_exit(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    hits = traffic.access_log(log)
    with serving(f"sqlite:///{tmp_path / 'wm.db'}", token="right") as served:
        process = _tail(log, served.base + "/api/logs", token="wrong")
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert f"Error: {len(hits) + 1} of {len(hits) + 1} lines were not shipped to" in stderr


def test_w3c_batches_each_carry_the_fields_directive(tmp_path: Path) -> None:
    start = datetime.now(timezone.utc) - timedelta(minutes=5)
    lines = ["#Version: 1.0", "#Fields: date time c-ip cs-method cs-uri-stem sc-status sc-bytes"]
    lines += [
        f"{start + timedelta(seconds=i // 10):%Y-%m-%d %H:%M:%S} 10.0.0.1 GET /w/{i} 200 {i}"
        for i in range(2 * ship.BATCH_LINES + 5)
    ]
    store = f"sqlite:///{tmp_path / 'wm.db'}"
    with serving(store) as served:
        shipper = ship.Shipper(served.base + "/api/logs", "iis", fmt="auto")
        shipper.add("u_ex.log", lines[:700])
        shipper.pump(force=True)
        shipper.add("u_ex.log", lines[700:])
        shipper.close(shipper.clock() + 20)
    # Delivered: every line but the #Fields directive, which travels as each batch's header
    # (#Version is delivered, and ignored by the server as a directive).
    assert (shipper.shipped, shipper.rejected, shipper.lost) == (len(lines) - 1, 0, 0)
    assert shipper.sequence == 4  # #Version alone, 698 lines, then 1000 and the last 307
    with open_store(store) as repository:
        rows = repository.query("SELECT count(*) AS n, sum(bytes) AS b FROM hits")
    assert int(rows[0]["n"]) == len(lines) - 2
    assert int(rows[0]["b"]) == sum(range(2 * ship.BATCH_LINES + 5))


def test_the_password_and_tokens_are_never_shown(tmp_path: Path) -> None:
    """Refused by the server, then unreachable: every warning and the final error name the
    URL with its password and query token masked, and never the bearer token."""
    log = tmp_path / "access.log"
    traffic.access_log(log)
    with serving(f"sqlite:///{tmp_path / 'wm.db'}", token="right") as served:
        userinfo = served.base.replace("http://", "http://wm:pw-hunter2@")
        url = f"{userinfo}/api/logs?access_token=query-hunter2"
        refused = _tail(log, url, "--log-format", "json", token="bearer-hunter2")
        _, refused_err = refused.communicate(timeout=60)
    gone = _tail(log, url, "--ship-timeout", "1s", token="bearer-hunter2")
    _, gone_err = gone.communicate(timeout=60)
    shown = served.base.replace("http://", "http://wm:***@") + "/api/logs?access_token=***"
    assert (refused.returncode, gone.returncode) == (1, 1)
    assert f"{shown} refused" in refused_err and "HTTP 401" in refused_err
    assert f"--ship: {shown}: ConnectionError" in gone_err and "retrying in" in gone_err
    for stderr in (refused_err, gone_err):
        assert f"were not shipped to {shown}" in stderr
        assert "hunter2" not in stderr
