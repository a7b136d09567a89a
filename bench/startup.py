"""Start-up: how long each `wm` command takes from exec to exit, against `python -c pass`.

Every command runs as a new process, as a user or a cron job starts it: the
installed `wm` script (or `python -m website_monitor` when there is none), with
the bytecode cache warm (one untimed run first). Each figure is the median of
several runs; the baseline, `python -c pass` with the same interpreter, is
measured in the same run, so the ratio says how much `wm` itself adds.

* `wm --help`, and `wm COMMAND --help` for the main commands: the command
  line alone (what every command pays before it does anything);
* `wm stats` on an empty embedded store: each run in a new, empty data
  directory (WM_DATA_DIR), so it includes creating the SQLite schema; and
  again on the store the previous run left.

The goal is at most 0.3 s for `wm --help` and `wm stats` on an empty store.

Usage: python -m bench.startup [--runs N]
"""

from __future__ import annotations

import argparse
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


def clean_environment(data_dir: str) -> dict[str, str]:
    """This environment without any WM_* setting, and the data directory given."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("WM_")}
    env["WM_DATA_DIR"] = data_dir
    return env


def timed(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from starting `argv` to its exit; a failure is an error, not a figure."""
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-500:]}"
        )
    return elapsed


def median_of(runs: int, once: Callable[[], float]) -> float:
    once()  # warm the bytecode cache and the page cache
    return statistics.median(once() for _ in range(runs))


def run(runs: int) -> list[Result]:
    wm = wm_command()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="wm-bench-startup-") as scratch:
        env = clean_environment(str(Path(scratch) / "data"))
        baseline = median_of(runs, lambda: timed([sys.executable, "-c", "pass"], env))
        log(f"python -c pass: {baseline * 1000:.0f} ms")

        def add(measured: str, seconds: float, note: str = "") -> None:
            log(f"{measured}: {seconds * 1000:.0f} ms")
            results.append(
                Result(
                    "startup",
                    measured,
                    seconds,
                    "s",
                    "python -c pass",
                    baseline,
                    note=note,
                )
            )

        add("wm --help", median_of(runs, lambda: timed([*wm, "--help"], env)))
        fresh = iter(range(runs + 1))

        def stats_in_new_directory() -> float:
            directory = str(Path(scratch) / f"empty-{next(fresh)}")
            return timed([*wm, "stats"], clean_environment(directory))

        add(
            "wm stats, new empty store",
            median_of(runs, stats_in_new_directory),
            note=f"ratio: times as long as `python -c pass`; goal: `wm --help` and `wm stats`"
            f" on an empty store within {GOAL_SECONDS} s each",
        )
        existing = clean_environment(str(Path(scratch) / "empty-0"))
        add(
            "wm stats, existing empty store",
            median_of(runs, lambda: timed([*wm, "stats"], existing)),
        )
        for name in HELP_COMMANDS:
            add(f"wm {name} --help", median_of(runs, lambda n=name: timed([*wm, n, "--help"], env)))
    return results


def run_size(size: str) -> list[Result]:
    """What `python -m bench --size SIZE` runs: the size does not change start-up."""
    return run(9)


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9, help="timed runs per command (median)")
    args = parser.parse_args(argv)
    results = run(args.runs)
    print(table(results))
    return results


if __name__ == "__main__":
    main()
