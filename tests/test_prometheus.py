"""Prometheus for real: Debian's `prometheus` server scrapes a real `wm serve`, and what it
computes from `wm_probe_duration_seconds` agrees with `wm stats`.

`scripts/check` installs the `prometheus` package (server and `promtool`); nothing is
downloaded here. With CI=true a missing binary is a failure.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests
from click.testing import CliRunner

from tests import services
from tests.conftest import unavailable
from tests.webserver import wait_until_answering, write
from website_monitor.cli import main
from website_monitor.probes.codec import ProbeResult
from website_monitor.probes.counters import BOUNDS_MS

#: Median response time (ms) of each URL's known durations: fast, typical, slow.
MEDIANS_MS = {
    "https://fast.example/": 8.0,
    "https://typical.example/health": 180.0,
    "https://slow.example/report": 2_400.0,
}
PROBES_PER_URL = 400
QUANTILE = (
    'histogram_quantile({q}, sum by (le, url) (wm_probe_duration_seconds_bucket{{phase="total"}}))'
)


def known_probes(now: datetime) -> list[ProbeResult]:
    """Log-normal durations around each URL's median over the last 40 minutes, one in 25
    a timeout (no duration): the same every run."""
    rng = random.Random(95)
    probes = []
    for url, median in MEDIANS_MS.items():
        for i in range(PROBES_PER_URL):
            at = now - timedelta(seconds=6 * (PROBES_PER_URL - i))
            if i % 25 == 7:
                probes.append(ProbeResult(url, at, None, None, error="timeout"))
                continue
            total = round(median * math.exp(rng.gauss(0.0, 0.7)), 3)
            probes.append(ProbeResult(url, at, 200, total, ttfb_ms=round(total * 0.6, 3)))
    return probes


def binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        unavailable(f"{name} is missing (apt-get install prometheus)")
    assert found is not None
    return found


@contextlib.contextmanager
def wm_serve(store_url: str) -> Iterator[str]:
    """`wm serve` in a process of its own on a free loopback port; its base URL."""
    port = services.free_port()
    args = ("serve", "--bind", f"127.0.0.1:{port}", "-d", store_url)
    with services.wm_process(*args) as process:
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_answering(base, timeout=30)
        except AssertionError:
            process.kill()
            raise AssertionError(process.communicate()[1]) from None
        yield base
        services.terminate_cleanly(process)


@contextlib.contextmanager
def prometheus(target: str, directory: Path) -> Iterator[str]:
    """Debian's Prometheus server scraping `target` (host:port) every second, with its
    storage under `directory`; its base URL. Killed on the way out."""
    server = binary("prometheus")
    port = services.free_port()
    config = directory / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: wm\n    static_configs:\n"
        f"      - targets: ['{target}']\n"
    )
    log = (directory / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            server,
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            assert process.poll() is None, (directory / "prometheus.log").read_text()[-2000:]
            with contextlib.suppress(requests.ConnectionError):
                return requests.get(base + "/-/ready", timeout=2).status_code == 200
            return False

        assert services.wait_until(ready, 30), "Prometheus was not ready within 30 s"
        yield base
    finally:
        process.kill()
        process.wait()
        log.close()


def query(base: str, promql: str) -> list[dict[str, Any]]:
    """An instant query through Prometheus' HTTP API: its result vector."""
    answer = requests.get(base + "/api/v1/query", params={"query": promql}, timeout=10)
    body = answer.json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def scrape_health(base: str) -> str:
    """The target's health and last error, for a failure message."""
    targets = requests.get(base + "/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
    return "; ".join(f"{t['health']} {t['lastError']}" for t in targets)


def bucket_of(ms: float) -> tuple[float, float]:
    """The histogram bucket (lower, upper bound, in ms) a duration falls in."""
    lower = 0.0
    for bound in BOUNDS_MS:
        if ms <= bound:
            return lower, float(bound)
        lower = float(bound)
    return lower, math.inf


def test_prometheus_p95_agrees_with_wm_stats(store_url: str, tmp_path: Path) -> None:
    probes = known_probes(datetime.now(timezone.utc))
    write(store_url, probes)
    result = CliRunner().invoke(main, ["stats", "-d", store_url, "--exact"])
    assert result.exit_code == 0, result.output
    stats = {entry["url"]: entry for entry in json.loads(result.stdout)["stats"]}
    assert set(stats) == set(MEDIANS_MS)
    timed = {url: sum(1 for p in probes if p.url == url and p.response_time_ms) for url in stats}

    with wm_serve(store_url) as base, prometheus(base.removeprefix("http://"), tmp_path) as prom:
        counts = 'sum by (url) (wm_probe_duration_seconds_count{phase="total"})'

        def scraped() -> bool:
            found = {r["metric"]["url"]: float(r["value"][1]) for r in query(prom, counts)}
            return found == {url: float(n) for url, n in timed.items()}

        assert services.wait_until(scraped, 30, step=0.5), scrape_health(prom)
        estimates = {
            (name, r["metric"]["url"]): float(r["value"][1]) * 1000
            for name, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99))
            for r in query(prom, QUANTILE.format(q=q))
        }
        checks = {r["metric"]["url"]: float(r["value"][1]) for r in query(prom, "wm_probes_total")}

    assert {url for _, url in estimates} == set(stats)
    for (name, url), estimate in estimates.items():
        exact = stats[url][name]
        lower, upper = bucket_of(exact)
        # histogram_quantile interpolates inside the bucket that holds the quantile: it
        # agrees with the exact value to that bucket's width.
        assert lower - 1e-9 <= estimate <= upper + 1e-9, (url, name, exact, estimate)
    for url, entry in stats.items():
        assert checks[url] == entry["probes"] == PROBES_PER_URL
    # The URLs' p95s fall in different buckets, so the check above tells them apart.
    assert len({bucket_of(entry["p95_ms"]) for entry in stats.values()}) == len(stats)


def test_promtool_accepts_the_metrics(sqlite_url: str) -> None:
    promtool = binary("promtool")
    write(sqlite_url, known_probes(datetime.now(timezone.utc)))
    with wm_serve(sqlite_url) as base:
        body = requests.get(base + "/metrics", timeout=10).text
    assert "wm_probe_duration_seconds_bucket" in body
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout + checked.stderr == ""
