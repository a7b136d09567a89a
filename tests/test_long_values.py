"""Long URLs, paths and names through every write path, on PostgreSQL.

PostgreSQL's btree refuses an index entry over about 2,700 bytes. A URL or a
request path longer than that must still be stored and queried (the indexes
are on a hash of it), and a value over the codec's limits is dead-lettered or
refused with a reason; either way, what comes after it is stored.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from tests.services import HTTPTestServer
from tests.test_pipeline import flush, produce
from tests.traffic import clf, tail_publish
from tests.webserver import serving
from website_monitor.cli import main
from website_monitor.codec import encode
from website_monitor.deadletters.store import dead_letters
from website_monitor.errors import StoreDataError, StoreUnavailable
from website_monitor.logs.codec import MAX_PATH_LENGTH, Hit
from website_monitor.probes import rollups as maintain
from website_monitor.probes.codec import MAX_URL_LENGTH, ProbeResult
from website_monitor.store import open_store
from website_monitor.telemetry.codec import TelemetryBucket
from website_monitor.transport.writer import store_events

NOW = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)
#: 8,000 characters, 16,000 bytes in UTF-8: six times what a btree entry may hold.
LONG_URL = "https://long.example/" + "é" * (MAX_URL_LENGTH - 200)
TOO_LONG = "https://long.example/" + "x" * 10_000


def probe(url: str, seconds: int = 0, ms: float = 10.0) -> ProbeResult:
    return ProbeResult(url, NOW + timedelta(seconds=seconds), 200, ms)


def hit(path: str, seconds: int = 0, source: str = "web1") -> Hit:
    return Hit(
        NOW + timedelta(seconds=seconds),
        source,
        "10.0.0.1",
        None,
        "GET",
        path,
        "/" + path.split("/")[1],
        200,
        10,
    )


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_a_long_url_is_stored_rolled_up_and_queried(pg_url: str) -> None:
    probes = [probe(LONG_URL, i, 10.0 + i) for i in range(20)] + [probe("https://short/", 0)]
    with open_store(pg_url) as repository:
        assert store_events(repository, probes) == 21
        assert maintain.catch_up(repository) == 21
        assert maintain.pending(repository) == 0
        assert maintain.rebuild(repository)["url_probes"] == 21
    for source in ("--exact", "--rollups"):
        stats = json.loads(run("stats", "-d", pg_url, "--url", LONG_URL, source))["stats"]
        assert [(s["url"], s["probes"]) for s in stats] == [(LONG_URL, 20)]
    status = json.loads(run("db", "status", "-d", pg_url))
    assert status["rollups"]["pending_probes"] == 0


def test_flush_stores_long_values_and_dead_letters_what_is_over_the_limits(
    kafka_bootstrap: str, topic: str, pg_url: str
) -> None:
    long_path = "/" + "p" * (MAX_PATH_LENGTH - 1)
    oversized_bucket = TelemetryBucket(
        name="s" * 10_000,
        metric_type="station",
        bucket_start=NOW,
        bucket_seconds=60,
        emitted_at=NOW,
        arrivals=1,
    )
    values = [
        encode(probe(LONG_URL)),
        encode(probe(TOO_LONG)),
        encode(hit(long_path)),
        encode(hit("/" + "p" * 10_000)),
        encode(hit("/x", source="h" * 10_000)),
        encode(oversized_bucket),
        encode(probe("https://after/")),
        encode(hit("/after")),
    ]
    produce(kafka_bootstrap, topic, values)
    flush(kafka_bootstrap, topic, pg_url)
    with open_store(pg_url) as repository:
        urls = {r["url"] for r in repository.query("SELECT url FROM url_probes")}
        paths = {r["path"] for r in repository.query("SELECT path FROM hits")}
        reasons = {bytes(d.value or b""): d.reason for d in dead_letters(repository)}
        assert maintain.pending(repository) == 0
    assert urls == {LONG_URL, "https://after/"}
    assert paths == {long_path, "/after"}
    assert reasons[values[1]] == f"field 'url' is longer than {MAX_URL_LENGTH} characters"
    assert reasons[values[3]].startswith("field 'path' is missing or not a string of 1 to 8192")
    assert reasons[values[4]].startswith("field 'source' is missing or not a string of 1 to 255")
    assert reasons[values[5]].startswith("field 'name' is not a string of 1 to 255")


def test_wm_probe_checks_a_long_url_and_refuses_one_over_the_limit(
    http_server: HTTPTestServer, pg_url: str
) -> None:
    long = f"{http_server.url}/{'é' * 3000}"
    result = CliRunner().invoke(main, ["probe", long, "-d", pg_url, "-q"])
    assert result.exit_code == 0, result.output
    assert json.loads(run("stats", "-d", pg_url))["stats"][0]["url"] == long
    over = CliRunner().invoke(main, ["probe", f"{http_server.url}/{'x' * 9000}", "-d", pg_url])
    assert over.exit_code == 1
    assert over.output.startswith("Error: URL ")
    assert f"(hint: a URL may have at most {MAX_URL_LENGTH} characters)" in over.output


def test_tail_publish_and_the_ingest_store_long_paths(pg_url: str, tmp_path: Path) -> None:
    long_path = "/api/" + "q" * 10_000  # cut to the codec's limit, stored, queried
    log = tmp_path / "access.log"
    log.write_text(
        "\n".join(
            clf(NOW + timedelta(seconds=i), p, 200, 10)
            for i, p in enumerate([long_path, "/after", long_path])
        )
        + "\n"
    )
    tail_publish(pg_url, log, source="s" * 10_000)
    with serving(pg_url) as served:
        answer = requests.post(
            served.base + "/api/logs",
            json={
                "source": "web2",
                "lines": [clf(NOW, long_path, 200, 10), clf(NOW, "/x", 200, 1)],
            },
            timeout=10,
        ).json()
    assert answer["accepted"] == answer["stored"] == 2 and answer["rejected"] == []
    with open_store(pg_url) as repository:
        rows = repository.query("SELECT source, path, section FROM hits ORDER BY id")
    assert [len(r["path"]) for r in rows] == [
        MAX_PATH_LENGTH,
        6,
        MAX_PATH_LENGTH,
        MAX_PATH_LENGTH,
        2,
    ]
    assert {len(r["source"]) for r in rows[:3]} == {255}
    sections = json.loads(run("stats", "--hits", "-d", pg_url))["hits"]
    assert {s["section"]: s["hits"] for s in sections} == {"/after": 1, "/api": 3, "/x": 1}


def test_data_the_store_refuses_is_dead_lettered_and_the_rest_stored(pg_url: str) -> None:
    """Whatever else the database refuses (here a constraint), on the paths without Kafka:
    the direct writer and the ingest keep the refused event in dead_letters and go on."""
    with open_store(pg_url) as repository:
        repository.execute(
            "ALTER TABLE hits ADD CONSTRAINT no_refusals CHECK (path NOT LIKE '%refuse-me%')"
        )
    with serving(pg_url) as served:
        answer = requests.post(
            served.base + "/api/logs",
            json={
                "source": "web1",
                "lines": [
                    clf(NOW, "/a", 200, 1),
                    clf(NOW, "/refuse-me", 200, 1),
                    clf(NOW, "/b", 200, 1),
                ],
            },
            timeout=10,
        ).json()
    assert answer["stored"] == answer["accepted"] == 2
    [rejected] = answer["rejected"]
    assert rejected["line"] == 1 and "no_refusals" in rejected["reason"]
    with open_store(pg_url) as repository:
        assert {r["path"] for r in repository.query("SELECT path FROM hits")} == {"/a", "/b"}
        [letter] = dead_letters(repository)
    assert letter.topic == "(direct)" and "no_refusals" in letter.reason
    still = json.loads(run("dlq", "replay", "-d", pg_url))
    assert still["replayed"] == 0 and still["still_failing"] == 1
    assert any("no_refusals" in reason for reason in still["reasons"])
    with open_store(pg_url) as repository:
        repository.execute("ALTER TABLE hits DROP CONSTRAINT no_refusals")
    fixed = json.loads(run("dlq", "replay", "-d", pg_url))
    assert fixed == {"replayed": 1, "still_failing": 0, "reasons": {}}
    with open_store(pg_url) as repository:
        assert {r["path"] for r in repository.query("SELECT path FROM hits")} == {
            "/a",
            "/b",
            "/refuse-me",
        }
        assert dead_letters(repository) == []


def test_the_store_tells_refused_data_from_an_outage(pg_url: str) -> None:
    with open_store(pg_url) as repository:
        with pytest.raises(StoreDataError, match="PostgreSQL refused the data"):
            repository.execute("SELECT 1 / 0")
        with pytest.raises(StoreDataError):
            repository.execute("SELECT repeat('x', 3000)::varchar(10)::int")
    with pytest.raises(StoreUnavailable):
        open_store("postgresql://postgres@127.0.0.1:1/none")


def test_a_long_value_on_sqlite_too(sqlite_url: str) -> None:
    event_id = str(uuid.uuid4())
    with open_store(sqlite_url) as repository:
        long_probe = ProbeResult(LONG_URL, NOW, 200, 5.0, event_id=event_id)
        assert store_events(repository, [long_probe, hit("/" + "y" * 8000)]) == 2
        assert maintain.catch_up(repository) == 1
    stats = json.loads(run("stats", "-d", sqlite_url, "--url", LONG_URL, "--rollups"))["stats"]
    assert stats[0]["probes"] == 1
