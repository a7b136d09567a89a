"""Start-up: how long each `wm` command takes from exec to exit, against `python -c pass`.

Every command runs as a new process, as a user or a cron job starts it: the
installed `wm` script (or `python -m website_monitor` when there is none), with
the bytecode cache warm (one untimed round first). Each figure is the median of
several runs, taken round after round so that the load of a shared machine
falls on every command alike: wall-clock time, what a user waits, and the
process's CPU time, which other work on the machine disturbs less. The
baseline, `python -c pass` with the same interpreter, runs in the same rounds,
so the ratio says how many times a bare interpreter's start `wm` takes.
`--compare DIR` times another source tree (an export of main, say) in the
same rounds, for a before-and-after on one machine.

* `wm --help`, and `wm COMMAND --help` for the main commands: the command
  line alone (what every command pays before it does anything);
* `wm stats` on an empty embedded store: each run in a new, empty data
  directory (WM_DATA_DIR), so it includes creating the SQLite schema; and
  again on an empty store that exists already.

The goal is at most 0.3 s for `wm --help` and `wm stats` on an empty store.

Usage: python -m bench.startup [--runs N] [--compare DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench._common import Result, log, table

GOAL_SECONDS = 0.3
HELP_COMMANDS = ("probe", "flush", "stats", "tail", "listen", "serve", "top", "db")


def wm_command() -> list[str]:
    """The installed `wm` script next to this interpreter, else `python -m website_monitor`."""
    script = Path(sys.executable).with_name("wm")
    if script.exists():
        return [sys.executable, str(script)]
    return [sys.executable, "-m", "website_monitor"]


def clean_environment(data_dir: str, extra: dict[str, str]) -> dict[str, str]:
    """This environment without any WM_* setting, with the data directory given."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("WM_")}
    return {**env, "WM_DATA_DIR": data_dir, **extra}


@dataclasses.dataclass
class Case:
    """One command line, the environment it runs in, and what its runs took."""

    name: str
    argv: list[str]
    env: Callable[[], dict[str, str]]
    goal: bool = False
    wall: list[float] = dataclasses.field(default_factory=list)
    cpu: list[float] = dataclasses.field(default_factory=list)

    def run_once(self, cwd: Path) -> None:
        """Run it to its exit: wall-clock seconds, and CPU seconds of the process."""
        env = self.env()
        with tempfile.TemporaryFile() as stderr:
            started = time.perf_counter()
            process = subprocess.Popen(
                self.argv,
                env=env,
                cwd=cwd,  # not a source tree: `python -m` looks in the working directory first
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
            _, status, usage = os.wait4(process.pid, 0)
            elapsed = time.perf_counter() - started
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode != 0:
                stderr.seek(0)
                message = stderr.read().decode(errors="replace")[-500:]
                raise RuntimeError(f"{self.name} exited {process.returncode}: {message}")
        self.wall.append(elapsed)
        self.cpu.append(usage.ru_utime + usage.ru_stime)


def cases_of(label: str, wm: list[str], scratch: Path, env: dict[str, str]) -> list[Case]:
    """The commands timed, run as `wm` (a list: the interpreter and the script)."""
    fresh = itertools.count()

    def plain() -> dict[str, str]:
        return clean_environment(str(scratch / "data"), env)

    def new_store() -> dict[str, str]:
        return clean_environment(str(scratch / f"empty-{next(fresh)}"), env)

    def existing_store() -> dict[str, str]:
        return clean_environment(str(scratch / "existing"), env)

    return [
        Case(f"wm --help{label}", [*wm, "--help"], plain, goal=True),
        Case(f"wm stats, new empty store{label}", [*wm, "stats"], new_store, goal=True),
        Case(f"wm stats, existing empty store{label}", [*wm, "stats"], existing_store),
        *(Case(f"wm {name} --help{label}", [*wm, name, "--help"], plain) for name in HELP_COMMANDS),
    ]


def run(runs: int, compare: Path | None = None) -> list[Result]:
    """Each case's median over `runs` rounds; with `compare`, also the website-monitor
    source tree there (`python -m website_monitor` on both sides, for the same launcher)."""
    with tempfile.TemporaryDirectory(prefix="wm-bench-startup-") as scratch:
        root = Path(scratch)
        wm = [sys.executable, "-m", "website_monitor"] if compare else wm_command()
        baseline = Case(
            "python -c pass",
            [sys.executable, "-c", "pass"],
            lambda: clean_environment(str(root / "baseline"), {}),
        )
        cases = cases_of("", wm, root / "this", {})
        if compare:
            other = {"PYTHONPATH": str(compare)}
            cases += cases_of(f" [{compare}]", wm, root / "other", other)
        # Round after round, every case once: a change in the machine's load falls on
        # all of them alike. The first round warms the caches and is not counted.
        for round_ in range(runs + 1):
            for case in (baseline, *cases):
                case.run_once(cwd=root)
                if round_ == 0:
                    case.wall.clear()
                    case.cpu.clear()
            log(f"round {round_}/{runs}")
    base_wall, base_cpu = statistics.median(baseline.wall), statistics.median(baseline.cpu)
    log(f"python -c pass: {base_wall * 1000:.0f} ms, CPU {base_cpu * 1000:.0f} ms")
    results = []
    for case in cases:
        wall, cpu = statistics.median(case.wall), statistics.median(case.cpu)
        log(f"{case.name}: {wall * 1000:.0f} ms, CPU {cpu * 1000:.0f} ms")
        goal = f"{case.name}: goal at most {GOAL_SECONDS:g} s" if case.goal else ""
        results.append(
            Result("startup", case.name, wall, "s", "python -c pass", base_wall, note=goal)
        )
        results.append(
            Result(
                "startup",
                f"{case.name} (CPU time)",
                cpu,
                "s",
                "python -c pass (CPU time)",
                base_cpu,
            )
        )
    return results


def run_size(size: str) -> list[Result]:
    """What `python -m bench --size SIZE` runs: the size does not change start-up."""
    return run(9)


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9, help="timed runs per command (median)")
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="DIR",
        help="also time the website-monitor source tree in DIR (e.g. an export of main)",
    )
    args = parser.parse_args(argv)
    results = run(args.runs, args.compare)
    print(table(results))
    return results


if __name__ == "__main__":
    main()
