"""End to end: HTTP server → wm probe → Kafka → wm flush → store → wm stats."""

from __future__ import annotations

import json

from click.testing import CliRunner

from tests.services import HTTPTestServer
from website_monitor.cli import main


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_probe_through_kafka_into_postgres(
    http_server: HTTPTestServer, kafka_bootstrap: str, topic: str, pg_url: str
) -> None:
    slow = f"{http_server.url}/delay/150"
    missing = f"{http_server.url}/status/404"
    for _ in range(3):
        run("probe", slow, missing, "-b", kafka_bootstrap, "-t", topic, "-q")
    run(
        "flush",
        "--drain",
        "-b",
        kafka_bootstrap,
        "-t",
        topic,
        "-d",
        pg_url,
        "-c",
        f"group-{topic}",
        "--session-timeout-ms",
        "6000",
        "--idle-timeout",
        "2s",
    )
    stats = json.loads(run("stats", "-d", pg_url))["stats"]
    assert [entry["url"] for entry in stats] == sorted([slow, missing])
    by_url = {entry["url"]: entry for entry in stats}
    assert by_url[slow]["probes"] == 3
    assert 150 <= by_url[slow]["p50_ms"] < 400
    assert by_url[missing]["availability"] == 0.0
    assert by_url[slow]["availability"] == 1.0
