"""`wm top`'s library side on both backends, without a terminal."""

from __future__ import annotations

import io
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from tests import traffic
from tests.documents import plain
from tests.webserver import URLS, sample_probes, write
from website_monitor import top
from website_monitor.cli import main
from website_monitor.deadletters.store import DeadLetter
from website_monitor.probes import stats
from website_monitor.store import open_store
from website_monitor.transport.writer import store_events


def test_snapshot_matches_stats_and_latest(store_url: str) -> None:
    probes = sample_probes()
    write(store_url, probes)
    with open_store(store_url) as repository:
        store_events(repository, [], [DeadLetter("probes", 0, 1, b"x", "value is not valid JSON")])
        snap = top.snapshot(repository, 3600)
        since = snap.taken_at - timedelta(hours=1)
        expected = stats.probe_stats(repository, stats.StatsQuery(since=since))
    assert [row.url for row in snap.rows] == sorted(URLS)
    assert [row.stats for row in snap.rows] == expected
    for row in snap.rows:
        newest = max((p for p in probes if p.url == row.url), key=lambda p: p.timestamp)
        assert row.last.http_status_code == newest.http_status_code
        assert datetime.fromisoformat(row.last.timestamp) == newest.timestamp
    assert snap.dead_letters == 1
    assert len(snap.recent) == top.RECENT
    assert [p.url for p in snap.recent] == [p.url for p in reversed(probes)][: top.RECENT]


def test_run_without_a_terminal_renders_until_stopped(sqlite_url: str) -> None:
    write(sqlite_url, sample_probes())
    output = io.StringIO()
    console = Console(file=output, width=120, force_terminal=True, color_system=None)
    stop = threading.Event()
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    with open_store(sqlite_url) as repository:
        top.run(repository, refresh=0.1, stop=stop, console=console, keys=io.StringIO())
    timer.cancel()
    text = output.getvalue()
    for url in URLS:
        assert url in text
    assert "q quits" in text


def test_an_old_url_still_shows_its_last_result(sqlite_url: str) -> None:
    old = sample_probes(datetime.now(timezone.utc) - timedelta(days=2))[:2]
    write(sqlite_url, old)
    with open_store(sqlite_url) as repository:
        snap = top.snapshot(repository, 3600)
    assert [row.url for row in snap.rows] == sorted(p.url for p in old)
    assert all(row.stats is None and row.last for row in snap.rows)
    rendered = io.StringIO()
    Console(file=rendered, width=120).print(top.render(snap))
    assert rendered.getvalue().count("2d ago") == len(old)


def test_snapshot_has_the_traffic_and_open_alerts(store_url: str, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    hits = traffic.access_log(log)
    traffic.tail_follow(store_url, log)
    with open_store(store_url) as repository:
        snap = top.snapshot(repository, 3600)
    since = snap.taken_at - timedelta(seconds=top.TRAFFIC_SECONDS)
    recent = sum(since <= h["t"] <= snap.taken_at for h in hits)
    assert recent > 0
    assert snap.traffic == {traffic.SOURCE: recent / top.TRAFFIC_SECONDS}
    listed = traffic.cli_json("alerts", "-d", store_url)["alerts"]
    assert plain(snap.open_alerts) == [a for a in listed if a["ended_at"] is None]
    assert len(snap.open_alerts) == 1
    rendered = io.StringIO()
    Console(file=rendered, width=160).print(top.render(snap))
    text = rendered.getvalue()
    assert f"traffic (last 1m): {traffic.SOURCE} {recent / 60:.2f} hits/s" in text
    alert = snap.open_alerts[0]
    assert f"alerts: OPEN {traffic.SOURCE} since {(alert.started_at or '')[11:19]}Z" in text
    assert f"(peak {alert.peak:.2f} hits/s, threshold 3)" in text


def test_no_traffic_and_no_alert(sqlite_url: str) -> None:
    write(sqlite_url, sample_probes())
    with open_store(sqlite_url) as repository:
        snap = top.snapshot(repository, 3600)
    rendered = io.StringIO()
    Console(file=rendered, width=160).print(top.render(snap))
    assert "traffic (last 1m): no hits" in rendered.getvalue()
    assert "alerts: none open" in rendered.getvalue()


def test_top_settings_errors_from_file_environment_and_flag(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Which source's value `wm top` used shows in the error it gives."""
    config = tmp_path / "wm.toml"
    config.write_text('[top]\nrefresh = "0s"\n')

    def invoke(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["top", "-d", sqlite_url, *args])
        return result.exit_code, result.output

    assert invoke("--config", str(config)) == (1, "Error: --refresh must be positive\n")
    monkeypatch.setenv("WM_CONFIG", str(config))
    monkeypatch.setenv("WM_TOP_REFRESH", "soon")
    hint = " (hint: use a number with a unit, e.g. 500ms, 30s, 5m, 1h, 7d)\n"
    assert invoke() == (1, "Error: --refresh: invalid duration 'soon'" + hint)
    assert invoke("--refresh", "later") == (1, "Error: --refresh: invalid duration 'later'" + hint)
    config.write_text('[top]\nwindow = "an hour"\n')
    monkeypatch.delenv("WM_TOP_REFRESH")
    assert invoke() == (1, f"Error: {config}:top.window: invalid duration 'an hour'" + hint)
