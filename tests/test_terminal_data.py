"""Data that looks like rich markup or terminal control, in `wm tail` and `wm top`.

A request path, a probed URL, an error text or a source name comes from the
outside. Each is shown literally (`[/x]` stays `[/x]`, nothing raises) and no
control character in it reaches the terminal: it is shown as an escape (`\\x1b`).
"""

from __future__ import annotations

import io
import re
import shlex
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from tests import traffic
from tests.terminal import Tmux, tmux_server, wait_for_file, wait_for_screen
from tests.webserver import write
from website_monitor import top
from website_monitor.cli import main
from website_monitor.display import printable
from website_monitor.logs.alerts import AlertEvent
from website_monitor.logs.formats import parse_ncsa
from website_monitor.logs.output import LiveReporter, TextReporter
from website_monitor.logs.summary import WindowStats
from website_monitor.probes.codec import ProbeResult
from website_monitor.store import open_store

BASE = 1_525_881_600  # 2018-05-09T16:00:00Z
#: Sets the terminal's window title: must never reach the terminal raw.
TITLE = "\x1b]2;PWNED\x07"
#: Paths as a request line may carry them (no spaces, no quotes).
PATHS = [
    "/[/x]",
    "/[bold]loud",
    "/[link=https://evil.example]click[/link]",
    "/[unbalanced",
    "/]]x[[",
    "/:smile:",
    "/esc" + TITLE,
    "/red\x1b[31mred\x1b[0m",
    "/cr\rline",
]
LONG = "/" + "L" * 5000
#: What a control character in data may not do on the terminal: set the title, colour,
#: clear the screen, ring the bell, return the carriage.
RAW_CONTROLS = ("\x1b]", "\x1b[31m", "\x1b[2J", "\x07", "PWNED\x07", "cr\rline")


def clf(second: float, path: str) -> str:
    stamp = datetime.fromtimestamp(BASE + second, timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'10.0.0.1 - - [{stamp}] "GET {path} HTTP/1.1" 200 100'


def nasty_summary() -> WindowStats:
    stats = WindowStats()
    for number, path in enumerate([*PATHS, LONG]):
        record = parse_ncsa(clf(number % 10, path))
        assert record is not None, path
        stats.add(record)
    return stats


def longest_run(text: str, letter: str) -> int:
    return max((len(run) for run in re.findall(f"{letter}+", text)), default=0)


def assert_no_raw_controls(output: str) -> None:
    for raw in RAW_CONTROLS:
        assert raw not in output, f"{raw!r} reached the terminal"


def test_printable_escapes_every_control_character() -> None:
    assert printable("a\x1b[31mb\x07c\rd\ne\tf\x7f\x9b\u202eg") == (
        "a\\x1b[31mb\\x07c\\x0dd\\x0ae\\x09f\\x7f\\x9b\\u202eg"
    )
    assert printable("[/x] [bold] ü 字 ✓") == "[/x] [bold] ü 字 ✓"
    assert printable("x" * 10, longest=5) == "xxxx…"


def test_live_tail_panel_shows_markup_literally(tmp_path: Path) -> None:
    output = io.StringIO()
    console = Console(file=output, width=250, force_terminal=True, color_system=None)
    paths = [str(tmp_path / "[bold]logs[/x].log"), "[link=https://evil.example]"]
    with LiveReporter(console, paths=paths) as reporter:
        reporter.bad_line("[/x] not a log line \x1b[2J" + TITLE)
        reporter.bad_line("[" * 20 + LONG)
        reporter.summary(nasty_summary().summary(BASE, BASE + 10, top=len(PATHS) + 1))
        reporter.alert(AlertEvent("triggered", BASE + 10, 12.5, 10, BASE + 10, 12.5))
    text = output.getvalue()
    for path in PATHS:
        assert printable(path) in text, path
    assert 50 < longest_run(text, "L") < 300  # a long path is cut short
    assert "wm tail " + " ".join(paths) in text
    assert "Incorrect log line format: [/x] not a log line \\x1b[2J\\x1b]2;PWNED\\x07" in text
    assert "High traffic generated an alert - hits = 12.50" in text
    assert_no_raw_controls(text)


def test_plain_tail_output_escapes_control_characters(tmp_path: Path) -> None:
    """Not on a terminal: the same lines, plain, with control characters escaped."""
    lines: list[str] = []
    reporter = TextReporter(lines.append)
    reporter.bad_line("[/x] \x1b[2J" + TITLE)
    reporter.summary(nasty_summary().summary(BASE, BASE + 10, top=len(PATHS) + 1))
    text = "\n".join(lines)
    assert lines[0] == "Incorrect log line format: [/x] \\x1b[2J\\x1b]2;PWNED\\x07"
    for path in PATHS:
        assert printable(path) in text
    assert_no_raw_controls(text)
    log = tmp_path / "access.log"
    log.write_text("\n".join(clf(1, path) for path in PATHS) + "\n[/x]" + TITLE + "\n")
    result = CliRunner().invoke(main, ["tail", str(log), "--from-start", "--exit-at-eof"])
    assert result.exit_code == 0, result.output
    assert "Incorrect log line format: [/x]\\x1b]2;PWNED\\x07" in result.output
    assert_no_raw_controls(result.output)


def nasty_probes() -> list[ProbeResult]:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    urls = [f"https://markup.example{path}" for path in PATHS]
    probes = [
        ProbeResult(url, now - timedelta(seconds=i), 200, 10.0 + i) for i, url in enumerate(urls)
    ]
    probes.append(ProbeResult("https://long.example" + LONG, now, 200, 5.0))
    probes.append(
        ProbeResult("https://error.example/[/x]", now, None, None, error="[/x]\x1b[2J" + TITLE)
    )
    return probes


@pytest.fixture
def nasty_store(sqlite_url: str, tmp_path: Path) -> str:
    """Probes with markup and control characters in their URLs and errors, and hits and an
    open alert from a source named like markup, stored through the real paths."""
    write(sqlite_url, nasty_probes())
    log = tmp_path / "access.log"
    traffic.access_log(log)
    traffic.tail_follow(sqlite_url, log, source="[/x]src" + TITLE)
    return sqlite_url


def test_top_renders_markup_literally(nasty_store: str) -> None:
    with open_store(nasty_store) as repository:
        snap = top.snapshot(repository, 3600)
    assert any(alert.source == "[/x]src" + TITLE for alert in snap.open_alerts)
    output = io.StringIO()
    Console(file=output, width=400, force_terminal=True, color_system=None).print(
        top.render(snap, error="Error: [/x] cannot [bold]read" + TITLE)
    )
    text = output.getvalue()
    for path in PATHS:
        assert printable("https://markup.example" + path) in text, path
    assert "[/x]\\x1b[2J\\x1b]2;PWNED\\x07" in text  # the error, as the status
    assert "traffic (last 1m): [/x]src\\x1b]2;PWNED\\x07 " in text
    assert "alerts: OPEN [/x]src\\x1b]2;PWNED\\x07 since" in text
    assert "Error: [/x] cannot [bold]read\\x1b]2;PWNED\\x07" in text
    assert 50 < longest_run(text, "L") < 300
    assert_no_raw_controls(text)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    yield from tmux_server()


def start(tmux: Tmux, command: list[str], exit_file: Path) -> None:
    """`command` in a 160x50 pane; its exit code goes to `exit_file`, then the pane stays."""
    line = shlex.join(["env", "-u", "COLUMNS", "-u", "LINES", *command])
    tmux(
        "new-session", "-d", "-x", "160", "-y", "50", "-s", "top",
        f"{line}; echo $? > {shlex.quote(str(exit_file))}; sleep 60",
    )  # fmt: skip


def test_top_in_a_terminal_shows_markup_and_keeps_the_title(
    tmux: Tmux, nasty_store: str, tmp_path: Path
) -> None:
    exit_file = tmp_path / "exit-code"
    wm_top = [sys.executable, "-m", "website_monitor", "top", "-d", nasty_store]
    start(tmux, [*wm_top, "--refresh", "500ms"], exit_file)
    title = tmux.pane("pane_title")
    shown = [printable("https://markup.example" + path) for path in PATHS[:6]]
    screen = wait_for_screen(tmux, *shown, "q quits")
    assert "[/x]\\x1b[2J\\x1b]2;PWNED\\x07" in screen
    assert "OPEN [/x]src\\x1b]2;PWNED\\x07 since" in screen
    refreshed = re.search(r"refreshed (\S+)Z", screen)
    assert refreshed is not None
    wait_for_screen(tmux, "refreshed", f"refreshed {refreshed[1]}Z", absent=True)
    assert not exit_file.exists()  # still up, drawn again
    assert tmux.pane("pane_title") == title != "PWNED"
    tmux("send-keys", "-t", "top", "q")
    assert wait_for_file(exit_file).strip() == "0", tmux.screen()
    assert tmux.pane("pane_title") == title


def test_tail_in_a_terminal_shows_markup_and_keeps_the_title(tmux: Tmux, tmp_path: Path) -> None:
    (tmp_path / "[bold]logs[").mkdir()
    log = tmp_path / "[bold]logs[/x].log"  # the path reads as markup
    lines = [clf(second, PATHS[second % len(PATHS)]) for second in range(30)]
    lines.insert(3, "[/x] not a log line" + TITLE)
    log.write_text("\n".join(lines) + "\n")
    exit_file = tmp_path / "exit-code"
    wm_tail = [sys.executable, "-m", "website_monitor", "tail", str(log), "--from-start"]
    options = ["--exit-at-eof", "--threshold", "0.1", "--top", "10", "--no-record-alerts"]
    start(tmux, [*wm_tail, *options], exit_file)
    title = tmux.pane("pane_title")
    assert wait_for_file(exit_file, timeout=30).strip() == "0", tmux.screen()
    screen = wait_for_screen(tmux, "most hits on section")
    assert f"wm tail {log}" in screen
    for path in PATHS:  # each is an endpoint of the last window
        assert printable(path) in screen, screen
    assert "Incorrect log line format: [/x] not a log line\\x1b]2;PWNED\\x07" in screen
    assert "High traffic generated an alert" in screen
    assert tmux.pane("pane_title") == title != "PWNED"
