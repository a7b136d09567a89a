"""Pruning raw rows: the rollups answer for the time before, nothing else is lost."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

from website_monitor.cli import main
from website_monitor.deadletters.store import DeadLetter, dead_letters
from website_monitor.logs.codec import Hit
from website_monitor.probes import rollups
from website_monitor.probes.codec import ProbeResult
from website_monitor.probes.queries import SeriesQuery, probe_series
from website_monitor.store import open_store
from website_monitor.transport.writer import store_events

NOW = datetime.now(timezone.utc).replace(microsecond=0)
DAYS = 70
URLS = ("https://a.example/", "https://b.example/")


def history() -> tuple[list[ProbeResult], list[Hit]]:
    """Checks every 20 minutes and a hit every 30 minutes for DAYS days, up to an hour ago."""
    rng = random.Random(9)
    start = NOW - timedelta(days=DAYS, hours=1)
    probes = [
        ProbeResult(URLS[i % 2], start + timedelta(minutes=10 * i), rng.choice((200, 200, 503)),
                    round(rng.lognormvariate(4, 0.5), 3))
        for i in range(DAYS * 144)
    ]  # fmt: skip
    hits = [
        Hit(start + timedelta(minutes=30 * i), "web1", "10.0.0.1", None, "GET", "/api/x",
            "/api", rng.choice((200, 500)), rng.randint(100, 5000))
        for i in range(DAYS * 48)
    ]  # fmt: skip
    return probes, hits


def wm(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_prune_keeps_the_answers_and_says_what_it_cannot_answer(store_url: str) -> None:
    probes, hits = history()
    with open_store(store_url) as repository:
        store_events(repository, [*probes, *hits])
    before = {
        "stats": json.loads(wm("stats", "-d", store_url, "--rollups"))["stats"],
        "day": json.loads(wm("stats", "-d", store_url, "--rollups", "--by", "day"))["stats"],
        "hits": json.loads(wm("stats", "--hits", "-d", store_url, "--rollups"))["hits"],
        "recent": json.loads(wm("stats", "-d", store_url, "--since", "5d", "--exact"))["stats"],
    }
    pruned = json.loads(wm("db", "prune", "-d", store_url, "--keep-raw", "30d"))
    cutoff = datetime.fromisoformat(pruned["kept_from"]["url_probes"])
    assert cutoff == (NOW - timedelta(days=30)).replace(hour=0, minute=0, second=0)
    older = sum(p.timestamp < cutoff for p in probes)
    assert pruned["deleted"] == {
        "url_probes": older,
        "hits": sum(h.timestamp < cutoff for h in hits),
    }
    with open_store(store_url) as repository:
        assert repository.scalar("SELECT count(*) FROM url_probes") == len(probes) - older
        assert rollups.pending(repository) == 0

    # What the rollups held is still answered, and the same; recent exact figures too.
    assert json.loads(wm("stats", "-d", store_url))["stats"] == before["stats"]
    assert json.loads(wm("stats", "-d", store_url, "--by", "day"))["stats"] == before["day"]
    assert json.loads(wm("stats", "--hits", "-d", store_url))["hits"] == before["hits"]
    recent = json.loads(wm("stats", "-d", store_url, "--since", "5d", "--exact"))["stats"]
    assert recent == before["recent"]
    # ...and what would need the pruned raw rows is one error line.
    for args in (["--exact"], ["--by", "hour"], ["--phases"], ["--since", "60d", "--exact"]):
        output = wm("stats", "-d", store_url, *args, code=1)
        assert output.startswith("Error: ") and output.count("\n") == 1, output
        assert "were pruned" in output or "(they were pruned)" in output, output
    assert wm("stats", "--hits", "-d", store_url, "--exact", code=1).startswith("Error: --exact")

    status = json.loads(wm("db", "status", "-d", store_url))
    assert status["raw"]["url_probes"]["kept_from"] == cutoff.isoformat()
    assert datetime.fromisoformat(status["raw"]["url_probes"]["oldest"]) >= cutoff
    tables = {t["name"]: t for t in status["tables"]}
    assert {"url_probes", "hits", "rollup_summary", "probe_series"} <= set(tables)

    again = json.loads(wm("db", "prune", "-d", store_url, "--keep-raw", "30d"))
    assert again["deleted"] == {"url_probes": 0, "hits": 0}


def test_series_of_pruned_time_come_from_the_stored_points(store_url: str) -> None:
    probes, _ = history()
    with open_store(store_url) as repository:
        store_events(repository, probes)
        rollups.catch_up(repository)
    with open_store(store_url) as repository:
        daily = probe_series(repository, SeriesQuery(bucket=86_400))
        wm("db", "prune", "-d", store_url, "--keep-raw", "20d")
        assert probe_series(repository, SeriesQuery(bucket=86_400)) == daily
        since = NOW - timedelta(days=45, hours=5)
        hourly = probe_series(repository, SeriesQuery(since=since, bucket=3600))
        assert hourly.series[0].points[0].t == since.replace(minute=0, second=0).isoformat()


def test_on_postgresql_a_prune_drops_whole_months(pg_url: str) -> None:
    probes, hits = history()
    with open_store(pg_url) as repository:
        store_events(repository, [*probes, *hits])
        # the rows of months before the store was made went to the default partition...
        assert repository.scalar("SELECT count(*) FROM url_probes_default") > 0
        rollups.catch_up(repository)  # ...and the catch-up moved them into their months
        months_before = _months(repository)
        assert len(months_before) >= 3
        assert repository.scalar("SELECT count(*) FROM url_probes_default") == 0
    wm("db", "prune", "-d", pg_url, "--keep-raw", "30d")
    with open_store(pg_url) as repository:
        months_after = _months(repository)
        cutoff = (NOW - timedelta(days=30)).replace(day=1, hour=0, minute=0, second=0)
        gone = {m for m in months_before if m < f"url_probes_{cutoff:%Y_%m}"}
        assert gone and not gone & months_after
        assert repository.scalar("SELECT count(*) FROM url_probes_default") == 0


def _months(repository: object) -> set[str]:
    rows = repository.query(  # type: ignore[attr-defined]
        "SELECT tablename FROM pg_tables WHERE tablename LIKE 'url_probes_2%'"
    )
    return {row["tablename"] for row in rows}


def test_dead_letters_are_kept_for_their_own_duration(sqlite_url: str) -> None:
    with open_store(sqlite_url) as repository:
        store_events(repository, [], [DeadLetter("probes", 0, n, b"x", "bad") for n in range(3)])
        repository.execute(
            "UPDATE dead_letters SET received_at = '2020-01-01T00:00:00.000Z' WHERE id < 3"
        )
    done = json.loads(wm("db", "prune", "-d", sqlite_url, "--keep-dead-letters", "30d"))
    assert done["deleted"] == {"dead_letters": 2}
    with open_store(sqlite_url) as repository:
        assert [d.offset for d in dead_letters(repository)] == [2]
    assert wm("db", "prune", "-d", sqlite_url, code=1).startswith("Error: nothing to prune")


def test_the_direct_writer_prunes_once_a_day_when_configured(
    sqlite_url: str, monkeypatch: object
) -> None:
    probes, _ = history()
    with open_store(sqlite_url) as repository:
        store_events(repository, probes)
    monkeypatch.setenv("WM_KEEP_RAW", "10d")  # type: ignore[attr-defined]
    from website_monitor import config
    from website_monitor.transport import open_publisher

    publisher = open_publisher(config.resolve({"db_connection_string": sqlite_url}))
    try:
        publisher.publish([ProbeResult(URLS[0], NOW, 200, 5.0)])
    finally:
        publisher.close()
    with open_store(sqlite_url) as repository:
        oldest = repository.scalar("SELECT min(timestamp) FROM url_probes")
        state = repository.query("SELECT raw_from, pruned_at FROM rollup_state")[0]
    assert datetime.fromisoformat(oldest) >= NOW - timedelta(days=11)
    assert state["raw_from"] > 0 and state["pruned_at"] > 0
