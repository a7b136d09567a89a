"""Access-log hits, alerts and telemetry for the `wm serve` / `wm top` tests, made when a
test starts and stored through the real paths: `wm tail --publish` (hits and alerts) and
the telemetry aggregator with the telemetry store (buckets)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from tests import services
from website_monitor.cli import main
from website_monitor.logs.queries import list_alerts
from website_monitor.store import open_store
from website_monitor.telemetry.buckets import Aggregator
from website_monitor.telemetry.llpp import Arrival, Departure, Status
from website_monitor.transport.writer import store_events

SOURCE = "web1"
#: wm tail options the sample log is read with: 1-minute alert window, 3 hits/s.
THRESHOLD = 3.0
TAIL_OPTIONS = ("--alert-window", "60s", "--threshold", str(THRESHOLD), "--interval", "10s")
SECTIONS = ("/", "/api", "/static", "/login")
STATIONS = ("checkout", "search")
TELEMETRY_BUCKET = 60


def clf(when: datetime, path: str, status: int, size: int, host: str = "10.0.0.1") -> str:
    stamp = when.astimezone(timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{host} - - [{stamp}] "GET {path} HTTP/1.1" {status} {size}'


def rate_at(second: int) -> int:
    """Hits per second of the sample log: 1, a 4-minute burst of 5, then 5 again at the end."""
    return 5 if 120 <= second < 360 or second >= 520 else 1


def access_log(path: Path, now: datetime | None = None) -> list[dict[str, Any]]:
    """Ten minutes of traffic ending now, written as Common Log Format; returns the hits."""
    now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    start = now - timedelta(minutes=10)
    rng = random.Random(8)
    hits: list[dict[str, Any]] = []
    lines: list[str] = []
    for second in range(600):
        when = start + timedelta(seconds=second)
        for n in range(rate_at(second)):
            section = SECTIONS[(second + n) % len(SECTIONS)]
            path_ = section if section == "/" else f"{section}/item{n}"
            status = 503 if rng.random() < 0.05 else 200
            size = rng.randint(100, 5000)
            hits.append({"t": when, "section": section, "status": status, "bytes": size})
            lines.append(clf(when, path_, status, size, host=f"10.0.0.{n + 1}"))
    lines.append("this line is not an access log line")
    path.write_text("\n".join(lines) + "\n")
    return hits


def tail_publish(store_url: str, log: Path, source: str = SOURCE) -> str:
    """`wm tail --publish --exit-at-eof --from-start`, as a person runs it; its output.

    An alert still open at the end of the log is closed as abandoned when it stops.
    """
    result = CliRunner().invoke(
        main,
        [
            "tail",
            str(log),
            "--publish",
            "--exit-at-eof",
            "--from-start",
            "--source",
            source,
            *TAIL_OPTIONS,
            "-d",
            store_url,
        ],
    )
    assert result.exit_code == 0, result.output
    return result.output


#: The sample log raises two alerts: one for the burst that ended, one still going at its end.
ALERTS = 2


def tail_follow(store_url: str, log: Path, source: str = SOURCE) -> None:
    """`wm tail --publish --from-start` following the sample log, as a person runs it.

    It is left running (`services.LEFT_RUNNING`, stopped when the test ends), as a
    stopped `wm tail` closes its open alert as abandoned: this returns once the store
    holds every hit of the log and its two alerts, the second still open.
    """
    expected = sum(1 for line in log.read_text().splitlines() if line.startswith("10."))
    process = subprocess.Popen(
        [
            sys.executable, "-m", "website_monitor", "tail", str(log), "--publish",
            "--from-start", "--source", source, *TAIL_OPTIONS, "-d", store_url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    services.LEFT_RUNNING.append(process)

    def caught_up() -> bool:
        assert process.poll() is None, process.communicate()[1]
        with open_store(store_url) as repository:
            mark = repository.placeholder
            hits = repository.scalar(f"SELECT count(*) FROM hits WHERE source = {mark}", (source,))
            alerts = list_alerts(repository, source=source)
        return int(hits) == expected and len(alerts) == ALERTS and alerts[-1].ended_at is None

    assert services.wait_until(caught_up, 60, step=0.2), "wm tail did not catch up in 60s"


def telemetry(store_url: str, now: datetime | None = None) -> None:
    """Five 1-minute buckets of two stations (arrivals, departures with service times,
    a status), aggregated and stored as `wm listen` does."""
    now_s = (now or datetime.now(timezone.utc)).timestamp()
    aggregator = Aggregator(TELEMETRY_BUCKET)
    start = (now_s // TELEMETRY_BUCKET - 5) * TELEMETRY_BUCKET
    rng = random.Random(3)
    for i, station in enumerate(STATIONS):
        for minute in range(5):
            base = start + minute * TELEMETRY_BUCKET
            for k in range(4 + minute + i):
                at = base + 1 + k
                aggregator.add(Arrival(station), at)
                service_ms = 10.0 * (i + 1) + rng.uniform(0, 20) + minute
                if k % 3:
                    aggregator.add(Departure(station, int(service_ms * 1e6)), at + 0.5)
            aggregator.add(Status(station, f"ok {minute}"), base + 30)
    events = aggregator.flush(now_s, final=True)
    with open_store(store_url) as repository:
        store_events(repository, events)


def cli_json(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output)
