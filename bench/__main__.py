"""Run every benchmark and print one markdown report: `python -m bench [--size small|large]`.

small (the default) finishes in a few minutes on 2 cores: flush 50k messages, decode 10k,
probe 1,000 URLs, stats and slo on 1M rows, each command's start-up (the same at either
size), wm serve's requests, wm top and the dashboard on 1M probes + 1M hits (views), hits
on a 200k-line log (stats over 2M hits). large: flush 200k, stats, slo and views on 10M
rows, hits on a 1M-line log (stats over 10M hits): the issues' target sizes; generating and
rolling up 10M rows takes several minutes.
bench/tail.py, bench/listen.py and bench/hostile.py, when present, run as they are (their
own defaults) and their output is included as printed. `python -m bench NAME [options]`
runs one bench with its own options (`python -m bench hits --lines 1000000`); `--only NAME`
(repeatable) picks several for the report. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

from bench import _common
from bench._common import Result, log, table

OURS = ("flush", "decode", "probe", "stats", "slo", "startup", "views", "hits")
OTHERS = ("tail", "listen", "hostile")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in OURS:  # one bench, with its own options
        importlib.import_module(f"bench.{argv[0]}").main(argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=["small", "large"], default="small")
    parser.add_argument("--only", action="append", choices=OURS + OTHERS, help="repeatable")
    parser.add_argument("names", nargs="*", metavar="NAME", help="as --only (default: all)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in OURS + OTHERS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r} (choose from {', '.join(OURS + OTHERS)})")
    selected = (args.only or []) + args.names or list(OURS + OTHERS)
    results: list[Result] = []
    failures: list[str] = []
    sections: list[str] = []
    started = time.monotonic()
    for name in OURS:
        if name not in selected:
            continue
        log(f"== bench {name} ({args.size})")
        module = importlib.import_module(f"bench.{name}")
        try:
            results.extend(module.run_size(args.size))
        except Exception:
            failures.append(f"{name}: {traceback.format_exc(limit=3).strip()}")
            log(failures[-1])
    here = Path(__file__).resolve().parent
    for name in OTHERS:
        if name not in selected or not (here / f"{name}.py").exists():
            continue
        log(f"== bench {name} (its own defaults)")
        env = {**os.environ, "PYTHONPATH": str(_common.ROOT)}
        try:
            done = subprocess.run(
                [sys.executable, "-m", f"bench.{name}"],
                capture_output=True,
                text=True,
                timeout=600,
                env=env,
                cwd=_common.ROOT,
            )
        except subprocess.TimeoutExpired:
            failures.append(f"{name}: did not finish within 600 s")
            continue
        if done.returncode != 0:
            failures.append(f"{name}: exit {done.returncode}: {done.stderr.strip()[-500:]}")
            continue
        sections.append(f"### {name}\n\n{done.stdout.strip()}")
    print(f"## Benchmarks (--size {args.size}, {time.monotonic() - started:.0f} s)\n")
    print(f"Machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}.\n")
    if results:
        print(table(results))
    for section in sections:
        print(f"\n{section}")
    if failures:
        print("\n### Failures\n")
        for failure in failures:
            print(f"- {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
