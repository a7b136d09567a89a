"""Benchmark: `wm tail --from-start --exit-at-eof` on a generated Combined-format log.

Measures lines/s and peak memory (max RSS of the process) of `wm tail`
parsing and aggregating the whole file, and in the same run a baseline on the
same file: GoAccess when installed (`goaccess FILE --log-format=COMBINED -o
report.json`), and always a naive Python loop (regular expression +
`datetime.strptime`, counting per 10 s window and section). Prints a markdown
table with the ratios.

    python -m bench.tail                 # 200k lines
    python -m bench.tail --lines 1000000
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PATHS = (
    "/",
    "/api/user",
    "/api/user/42",
    "/api/item?id=7",
    "/report",
    "/report/2018/05",
    "/static/app.js",
    "/static/style.css",
    "/login",
    "/search?q=monitor",
)
AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Safari/605.1.15",
    "curl/8.4.0",
)
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

NAIVE = r"""
import re, sys
from collections import Counter
from datetime import datetime
pattern = re.compile(
    r'(?P<host>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<method>\S+) (?P<path>\S+)'
    r' [^"]*" (?P<status>\d{3}) (?P<size>\S+)(?: "(?P<referer>[^"]*)" "(?P<agent>[^"]*)")?'
)
windows = Counter()
sections = Counter()
statuses = Counter()
total = 0
with open(sys.argv[1], encoding="utf-8", errors="replace") as fh:
    for line in fh:
        match = pattern.match(line)
        if not match:
            continue
        moment = datetime.strptime(match["time"], "%d/%b/%Y:%H:%M:%S %z")
        windows[int(moment.timestamp()) // 10] += 1
        sections["/" + match["path"].split("/")[1].split("?")[0]] += 1
        statuses[match["status"][0]] += 1
        size = match["size"]
        total += 0 if size == "-" else int(size)
print(len(windows), sum(windows.values()), total)
"""


def generate(path: Path, lines: int, seed: int = 5) -> None:
    rng = random.Random(seed)
    start = 1_525_881_600
    with path.open("w") as fh:
        for i in range(lines):
            second = start + i // 50  # 50 requests per second
            t = time.gmtime(second)
            stamp = (
                f"{t.tm_mday:02d}/{MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
                f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
            )
            status = rng.choice((200, 200, 200, 200, 304, 404, 500))
            fh.write(
                f"10.0.{rng.randrange(256)}.{rng.randrange(256)} - "
                f"{rng.choice(('-', 'alice', 'bob'))} [{stamp}] "
                f'"{rng.choice(("GET", "GET", "POST"))} {rng.choice(PATHS)} HTTP/1.1" '
                f"{status} {rng.randrange(100, 50_000)} "
                f'"https://example.org/" "{rng.choice(AGENTS)}"\n'
            )


def measure(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MiB) of one process.

    On a shared machine the CPU time varies much less than the wall time."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        error = process.stderr.read().decode() if process.stderr else ""
        raise SystemExit(f"{argv[0]} failed ({process.returncode}): {error}")
    if process.stderr:
        process.stderr.close()
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000, help="lines in the generated log")
    parser.add_argument("--file", help="use this Combined-format log instead of generating one")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        log = Path(args.file) if args.file else Path(tmp) / "access.log"
        if not args.file:
            generate(log, args.lines)
        with log.open("rb") as fh:
            lines = sum(1 for _ in fh)
        size_mb = log.stat().st_size / 1e6
        env = {**os.environ, "WM_DATA_DIR": str(Path(tmp) / "data")}
        wm = [sys.executable, "-m", "website_monitor", "tail", str(log)]
        wm += ["--from-start", "--exit-at-eof", "--no-record-alerts"]
        results = [("wm tail", *measure(wm, env))]
        goaccess = shutil.which("goaccess")
        if goaccess:
            report = Path(tmp) / "report.json"
            argv = [goaccess, str(log), "--log-format=COMBINED", "-o", str(report)]
            results.append(("GoAccess", *measure(argv)))
        naive = Path(tmp) / "naive.py"
        naive.write_text(NAIVE)
        results.append(("naive regex + strptime", *measure([sys.executable, str(naive), str(log)])))

    ours, ours_cpu = results[0][1], results[0][2]
    print(f"{lines} lines, {size_mb:.1f} MB, Python {sys.version.split()[0]}\n")
    print(
        "| tool | seconds | lines/s | CPU seconds | peak RSS MiB "
        "| wm tail speed ratio | CPU ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, seconds, cpu, rss in results:
        rate = lines / seconds
        print(
            f"| {name} | {seconds:.2f} | {rate:,.0f} | {cpu:.2f} | {rss:.0f} "
            f"| {seconds / ours:.2f} | {cpu / ours_cpu:.2f} |"
        )
    print("\nratio = baseline time / wm tail time (above 1: wm tail is faster)")


if __name__ == "__main__":
    main()
