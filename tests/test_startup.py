"""Start-up: each command imports what it uses and nothing else; Ctrl-C never shows a traceback.

Every command runs in a process of its own, as `wm` does, and reports the
modules it had imported when it exited. How long anything takes is measured
by bench/startup.py, never here.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from tests.services import HTTPTestServer

#: What the commands below never need: the broker's clients and the web server, and,
#: where no such work is done, the HTTP clients, the terminal UI, PostgreSQL and metrics.
KAFKA_AND_WEB = ("kafka", "confluent_kafka", "starlette", "uvicorn", "prometheus_client")

#: Writes the names of the imported modules to argv[1] at exit, then runs `wm argv[2:]`.
REPORTING = """
import atexit, json, sys
report = sys.argv[1]
atexit.register(lambda: open(report, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["wm", *sys.argv[2:]]
from website_monitor.cli import run
run()
"""

#: Raises SIGINT in the process when the module argv[1] starts to be imported, as a
#: Ctrl-C at that moment would, then runs `wm argv[2:]`.
INTERRUPTED = """
import importlib.abc, signal, sys
target = sys.argv[1]

class CtrlC(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target_module=None):
        if name == target:
            sys.meta_path.remove(self)
            signal.raise_signal(signal.SIGINT)
        return None

sys.meta_path.insert(0, CtrlC())
sys.argv = ["wm", *sys.argv[2:]]
from website_monitor.cli import run
run()
"""


def run_wm(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )


def imported_by(tmp_path: Path, *args: str) -> set[str]:
    """The top-level names of the modules `wm ARGS` had imported when it exited 0."""
    report = tmp_path / "modules.json"
    done = run_wm(REPORTING, str(report), *args)
    assert done.returncode == 0, done.stderr
    return {name.split(".")[0] for name in json.loads(report.read_text())}


def test_stats_on_the_embedded_store_imports_neither_kafka_nor_the_web(tmp_path: Path) -> None:
    modules = imported_by(tmp_path, "stats")
    heavy = ("aiohttp", "requests", "rich", "psycopg2", "platformdirs")
    assert modules.isdisjoint(KAFKA_AND_WEB + heavy), modules & set(KAFKA_AND_WEB + heavy)
    assert "website_monitor" in modules


def test_probe_without_a_broker_imports_neither_kafka_nor_the_web(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    modules = imported_by(tmp_path, "probe", "-q", http_server.url + "/")
    assert http_server.hits == 1
    heavy = ("requests", "rich", "psycopg2")
    assert modules.isdisjoint(KAFKA_AND_WEB + heavy), modules & set(KAFKA_AND_WEB + heavy)
    assert "aiohttp" in modules  # what it does use


@contextlib.contextmanager
def drawing_top(*command: str) -> Iterator[subprocess.Popen[bytes]]:
    """`wm top` (run by `command`) on a terminal of its own, once it has drawn its view,
    and so is past start-up; killed on the way out if it still runs."""
    screen, terminal = pty.openpty()
    process = subprocess.Popen(
        [*command, "top", "--refresh", "100ms"],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=subprocess.PIPE,
    )
    os.close(terminal)
    try:
        ready, _, _ = select.select([screen], [], [], 60)
        assert ready and os.read(screen, 1024), "wm top drew nothing"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(screen)


def test_top_imports_neither_kafka_nor_the_web(tmp_path: Path) -> None:
    report = tmp_path / "modules.json"
    with drawing_top(sys.executable, "-c", REPORTING, str(report)) as process:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    modules = {name.split(".")[0] for name in json.loads(report.read_text())}
    heavy = ("aiohttp", "requests", "psycopg2")
    assert modules.isdisjoint(KAFKA_AND_WEB + heavy), modules & set(KAFKA_AND_WEB + heavy)
    assert "rich" in modules  # what it does use


def test_help_imports_no_command(tmp_path: Path) -> None:
    report = tmp_path / "modules.json"
    done = run_wm(REPORTING, str(report), "--help")
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(report.read_text()))
    loaded = sorted(name for name in modules if name.startswith("website_monitor."))
    assert loaded == ["website_monitor.cli", "website_monitor.cli._group", "website_monitor.errors"]
    assert "stats" in done.stdout and "serve" in done.stdout


def test_command_modules_import_no_third_party_library_but_click() -> None:
    """Each command imports what it needs inside its function: `wm X --help` stays light."""
    from website_monitor.cli._group import COMMANDS

    modules = [module for module, _ in COMMANDS.values()]
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    top_level = {name.split(".")[0] for name in json.loads(done.stdout)}
    third_party = top_level - set(sys.stdlib_module_names) - {"website_monitor", "click"}
    assert {name for name in third_party if not name.startswith("_")} == set()


def test_help_lists_what_each_command_says_of_itself() -> None:
    """The one-line help `wm --help` shows without importing the commands is the one
    they would show themselves."""
    from website_monitor.cli import main
    from website_monitor.cli._group import COMMANDS

    plain = click.Group(
        "wm", help=main.help, params=main.params, context_settings=main.context_settings
    )
    for name in main.list_commands(click.Context(main)):
        plain.add_command(main.commands[name], name)
    assert sorted(plain.commands) == sorted(COMMANDS)
    for width in (60, 80, 120):
        helps = [
            group.get_help(
                click.Context(group, info_name="wm", terminal_width=width, **main.context_settings)
            )
            for group in (main, plain)
        ]
        assert helps[0] == helps[1]


@pytest.mark.parametrize(
    ("args", "interrupted"),
    [
        (["stats"], "click"),  # still loading the command line
        (["stats"], "website_monitor.cli.stats"),  # loading the command
        (["stats"], "website_monitor.probes.stats"),  # loading what the command uses
        (["serve", "--help"], "website_monitor.config"),
        (["probe", "http://127.0.0.1:1/"], "aiohttp"),
    ],
)
def test_ctrl_c_while_starting_exits_130_without_a_traceback(
    args: list[str], interrupted: str
) -> None:
    done = run_wm(INTERRUPTED, interrupted, *args)
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr
    assert "KeyboardInterrupt" not in done.stderr
    assert done.stderr.strip() == "Aborted!"
    assert done.stdout == ""


def test_ctrl_c_once_running_stops_a_long_command_cleanly() -> None:
    """Once `wm top` has drawn its view, Ctrl-C is its stop request: exit 0."""
    with drawing_top(sys.executable, "-m", "website_monitor") as process:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert b"Traceback" not in stderr
