"""`wm top` in a real terminal: tmux runs it, capture-pane reads the screen, send-keys quits."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests import traffic
from tests.documents import plain
from tests.terminal import Tmux, tmux_server, wait_for_file, wait_for_screen, wait_until_gone
from tests.webserver import URLS, sample_probes, write
from website_monitor.probes import stats
from website_monitor.probes.codec import ProbeResult
from website_monitor.store import open_store


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    yield from tmux_server()


def test_top_shows_the_store_refreshes_and_quits_on_q(
    tmux: Tmux, sqlite_url: str, tmp_path: Path
) -> None:
    probes = sample_probes()
    write(sqlite_url, probes)
    log = tmp_path / "access.log"
    hits = traffic.access_log(log)
    traffic.tail_follow(sqlite_url, log)
    before = datetime.now(timezone.utc)
    exit_file = tmp_path / "exit-code"
    stty_file = tmp_path / "stty-after"
    # The pane's own size (120x30), not a COLUMNS/LINES the test run may have inherited.
    wm_top = [sys.executable, "-m", "website_monitor", "top", "-d", sqlite_url]
    command = shlex.join(["env", "-u", "COLUMNS", "-u", "LINES", *wm_top, "--refresh", "500ms"])
    tmux(
        "new-session",
        "-d",
        "-x",
        "120",
        "-y",
        "30",
        "-s",
        "top",
        f"{command}; echo $? > {shlex.quote(str(exit_file))};"
        f" stty -a > {shlex.quote(str(stty_file))}",
    )

    with open_store(sqlite_url) as repository:
        since = datetime.now(timezone.utc) - timedelta(hours=1)
        expected = plain(stats.probe_stats(repository, stats.StatsQuery(since=since)))
    assert [e["url"] for e in expected] == sorted(URLS)
    screen = wait_for_screen(tmux, *URLS, "q quits")
    for entry in expected:
        line = next(line for line in screen.splitlines() if entry["url"] in line)
        cells = [c.strip() for c in line.split("│") if c.strip()]
        newest = max((p for p in probes if p.url == entry["url"]), key=lambda p: p.timestamp)
        assert cells[1] == str(newest.http_status_code or newest.error)
        assert cells[3:] == [
            str(entry["probes"]),
            f"{entry['p50_ms']:.1f}",
            f"{entry['p95_ms']:.1f}",
            f"{entry['availability'] * 100:.1f}",
        ]

    # The traffic line: hits/s over the minute before the view was drawn. No hit is newer
    # than `before`, so the rate can only fall from its value then to its value now.
    after = datetime.now(timezone.utc)

    def per_second(end: datetime) -> float:
        return sum(end - timedelta(seconds=60) <= h["t"] <= end for h in hits) / 60

    line = next(line for line in screen.splitlines() if "traffic (last 1m):" in line)
    shown = float(line.split(f"{traffic.SOURCE} ")[1].split(" hits/s")[0])
    assert round(per_second(after), 2) <= shown <= round(per_second(before), 2)
    alerts = traffic.cli_json("alerts", "-d", sqlite_url)["alerts"]
    [open_alert] = [a for a in alerts if a["ended_at"] is None]
    line = next(line for line in screen.splitlines() if line.startswith("alerts:"))
    assert line.strip() == (
        f"alerts: OPEN {traffic.SOURCE} since {open_alert['started_at'][11:19]}Z"
        f" (peak {open_alert['peak']:.2f} hits/s, threshold 3)"
    )

    fresh = ProbeResult("https://delta.example/new", datetime.now(timezone.utc), 204, 12.3)
    write(sqlite_url, [fresh])
    screen = wait_for_screen(tmux, fresh.url, timeout=5)
    line = next(line for line in screen.splitlines() if fresh.url in line and "┃" not in line)
    assert "204" in line and "12.3" in line

    tmux("send-keys", "-t", "top", "q")
    assert wait_for_file(exit_file).strip() == "0", "wm top did not quit on q"
    # The terminal is back in canonical mode with echo, as before wm top.
    modes = wait_for_file(stty_file).split()
    assert "icanon" in modes and "echo" in modes
    wait_until_gone(tmux)


def test_top_window_from_the_config_file_and_what_overrides_it(
    tmux: Tmux, sqlite_url: str, tmp_path: Path
) -> None:
    write(sqlite_url, sample_probes())
    config = tmp_path / "wm.toml"
    config.write_text('[top]\nwindow = "30m"\nrefresh = "500ms"\n')
    wm_top = [sys.executable, "-m", "website_monitor", "top", "-d", sqlite_url]
    runs = [
        ([], [], "last 30m"),
        ([], ["--window", "45m"], "last 45m"),  # the flag beats the file
        (["WM_TOP_WINDOW=2h"], [], "last 2h"),  # so does the environment
        (["WM_TOP_WINDOW=2h"], ["--window", "45m"], "last 45m"),  # the flag beats both
    ]
    for number, (variables, flags, title) in enumerate(runs):
        exit_file = tmp_path / f"exit-{number}"
        unset = ["-u", "COLUMNS", "-u", "LINES"]
        command = shlex.join(["env", *unset, f"WM_CONFIG={config}", *variables, *wm_top, *flags])
        tmux(
            "new-session", "-d", "-x", "120", "-y", "30", "-s", "top",
            f"{command}; echo $? > {shlex.quote(str(exit_file))}",
        )  # fmt: skip
        wait_for_screen(tmux, f"wm top · {title} · ", "q quits")
        tmux("send-keys", "-t", "top", "q")
        assert wait_for_file(exit_file).strip() == "0"
        wait_until_gone(tmux)
