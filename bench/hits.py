"""Hits end to end: the six goals of access-log throughput, each a ratio in one run.

On a generated nginx Combined log (bench/_hitlog.py; --lines, default 1M):

1. `wm tail --from-start --exit-at-eof --publish -b BROKER` against the same
   without publishing (lines/s; peak RSS of the publishing tail reported);
2. `wm flush -t TOPIC` of those hits into PostgreSQL (the real sink, timed from
   its first poll until the last offset is committed and the rollups hold every
   hit) against a raw COPY of the same rows into the same table;
3. `wm tail --publish` straight to PostgreSQL against that COPY, and to SQLite
   against a bare `executemany` of the same rows into the same table;
4. `POST /api/logs` to a `wm serve` on PostgreSQL, 1,000-line batches from 4
   concurrent clients, against the COPY;
5. `wm stats --hits` from the rollups over --stats-rows generated hits against
   the raw-row query (counts exact, size percentiles within 1 %);
6. exactly once: after the Kafka path, stored rows == distinct ids == lines,
   and publishing and flushing the same file again stores nothing new (also
   checked for the direct PostgreSQL path).

Usage: python -m bench hits [--lines N] [--stats-rows N]   (or python -m bench.hits)
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from bench import _hitlog
from bench._common import Result, Timer, log, scratch_database, table, time_sink
from bench.tail import measure as measure_fork
from tests import services
from website_monitor import config
from website_monitor.logs import rollups
from website_monitor.logs.store import HIT_COLUMNS, hit_row
from website_monitor.store import open_store
from website_monitor.store.postgres import PostgresRepository
from website_monitor.store.sqlite import format_timestamp
from website_monitor.transport.kafka import open_consumer
from website_monitor.transport.sink import Sink

SIZES = {"small": 200_000, "large": 1_000_000}
SOURCE = "bench-web-1"
WM = [sys.executable, "-m", "website_monitor"]


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MiB) of one process.

    The peak RSS comes from GNU time when installed: a child forked from this
    process (which holds the rows of the baselines) would count this process's
    pages in its own peak until it execs."""
    time_bin = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    if time_bin is None:
        return measure_fork(argv, env)
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as out:
        wall, cpu, _ = measure_fork([time_bin, "-f", "%M", "-o", out.name, *argv], env)
        return wall, cpu, int(out.read().split()[-1]) / 1024


def tail_argv(log_file: Path, *extra: str) -> list[str]:
    return [
        *WM, "tail", str(log_file), "--from-start", "--exit-at-eof", "--no-record-alerts",
        "--source", SOURCE, *extra,
    ]  # fmt: skip


def stored(db_url: str) -> tuple[int, int]:
    """(rows, distinct event ids) in hits."""
    with open_store(db_url) as repository:
        row = repository.query("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM hits")[0]
    return int(row["n"]), int(row["d"])


def reset(db_url: str) -> None:
    with open_store(db_url) as repository:
        repository.execute("TRUNCATE hits, hit_summary, hit_histogram, hit_totals")
        repository.execute(
            "UPDATE hit_rollup_state SET rolled_up_to = 0, weeks_to = 0, raw_from = 0"
        )


def raw_copy(db_url: str, copy_file: Path) -> float:
    """Seconds for one COPY of the prepared rows into hits (no conflict check, no rollups)."""
    reset(db_url)
    with open_store(db_url) as repository, copy_file.open() as fh:
        assert isinstance(repository, PostgresRepository)
        with Timer() as timer, repository.conn, repository.conn.cursor() as cursor:
            cursor.copy_expert(f"COPY hits ({', '.join(HIT_COLUMNS)}) FROM STDIN", fh, size=1 << 20)
    return timer.elapsed


def bare_executemany(sqlite_path: Path, log_file: Path) -> float:
    """Seconds of a plain `executemany` INSERT of the same rows (prepared untimed) into hits
    of a migrated SQLite store, in one transaction."""
    open_store(f"sqlite:///{sqlite_path}").close()  # creates the schema
    conn = sqlite3.connect(sqlite_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    sql = (
        f"INSERT INTO hits ({', '.join(HIT_COLUMNS)}) VALUES ({', '.join('?' * len(HIT_COLUMNS))})"
    )
    elapsed = 0.0
    conn.execute("BEGIN")
    for batch in _hitlog.hits(log_file, SOURCE):
        rows = [(h.event_id, format_timestamp(h.timestamp), *hit_row(h)[2:]) for h in batch]
        with Timer() as timer:
            conn.executemany(sql, rows)
        elapsed += timer.elapsed
    with Timer() as timer:
        conn.execute("COMMIT")
    conn.close()
    return elapsed + timer.elapsed


def flush(bootstrap: str, db_url: str, topic: str, group: str, hits: int) -> tuple[float, int]:
    """The real sink until it handled `hits` hits: seconds from its first poll until the
    last batch's offsets are committed and the hits' rollups caught up; hits it stored.
    It stops as the probe flush bench does, once every hit is handled, not after an idle
    wait for more (what `--drain` does before it exits)."""
    settings = config.resolve(
        {"bootstrap_servers": bootstrap, "topic": topic, "consumer_group_id": group}, env={}
    )
    repository = open_store(db_url)
    consumer = open_consumer(settings, topic, session_timeout_ms=6000)
    marks: dict[str, float] = {}
    stop = threading.Event()
    try:
        sink = Sink(
            consumer, repository, batch_size=settings.flush.batch_size, on_progress=lambda s: None
        )
        marks = time_sink(sink, consumer, stop, stop_at=hits, events=True)
        stats = sink.run(stop, drain=True, idle_timeout=10.0)
        rollups.catch_up(repository)
        marks["last"] = time.perf_counter()
    finally:
        consumer.close(autocommit=False)
        repository.close()
    if "first" not in marks:
        return 0.0, stats.stored
    return marks["last"] - marks["first"], stats.stored


def post_logs(db_url: str, log_file: Path, clients: int = 4, batch: int = 1000) -> float:
    """Seconds for `clients` threads to POST every line in `batch`-line requests to a
    `wm serve` (its own process) on `db_url`."""
    port = services.free_port()
    argv = [*WM, "serve", "--bind", f"127.0.0.1:{port}", "-d", db_url, "--log-level", "warning"]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        services.wait_for_port("127.0.0.1", port, timeout=30)
        with log_file.open() as fh:
            lines = fh.read().splitlines()
        batches = [lines[i : i + batch] for i in range(0, len(lines), batch)]
        del lines
        url = f"http://127.0.0.1:{port}/api/logs"

        def send(share: list[list[str]]) -> int:
            done = 0
            with requests.Session() as session:
                for index, body in share:
                    answer = session.post(
                        url,
                        json={"source": SOURCE, "lines": body, "batch": f"b{index}"},
                        timeout=120,
                    )
                    answer.raise_for_status()
                    done += answer.json()["stored"]
            return done

        shares: list[list[Any]] = [[] for _ in range(clients)]
        for index, body in enumerate(batches):
            shares[index % clients].append((index, body))
        with Timer() as timer, concurrent.futures.ThreadPoolExecutor(clients) as pool:
            done = sum(pool.map(send, shares))
        if done != sum(len(b) for b in batches):
            raise RuntimeError(f"POST /api/logs stored {done} of {sum(map(len, batches))} lines")
        return timer.elapsed
    finally:
        server.terminate()
        server.wait(timeout=30)


def stats_rows(db_url: str, rows: int) -> list[Result]:
    """Goal 5: `wm stats --hits` from the rollups against the raw rows, over `rows` hits."""
    from bench import _hitstats

    return _hitstats.run(db_url, rows)


def run(lines: int, stats_count: int, log_file: str | None = None) -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        access = Path(log_file) if log_file else tmp / "access.log"
        if not log_file:
            log(f"hits: generating {lines:,} lines")
            _hitlog.generate(access, lines)
        copy_file = tmp / "hits.copy"
        lines = _hitlog.write_copy_text(access, SOURCE, copy_file)
        size_mb = access.stat().st_size / 1e6
        log(f"hits: {lines:,} lines, {size_mb:.0f} MB")
        env = {**os.environ, "WM_DATA_DIR": str(tmp / "data")}
        with scratch_database("hits") as db_url, services.kafka_broker() as bootstrap:
            open_store(db_url).close()  # migrated
            topic = f"bench-hits-{uuid.uuid4().hex[:8]}"
            kafka = ("--publish", "-b", bootstrap, "-t", topic)

            # 1. tail, without and with publishing to Kafka
            plain_s, plain_cpu, plain_rss = measure(tail_argv(access), env)
            log(f"hits: wm tail {lines / plain_s:,.0f} lines/s, {plain_rss:.0f} MiB")
            publish_s, publish_cpu, publish_rss = measure(tail_argv(access, *kafka), env)
            log(f"hits: tail --publish -b {lines / publish_s:,.0f} lines/s, {publish_rss:.0f}MiB")
            results.append(
                Result(
                    "hits/1 tail -b", f"wm tail --publish -b (Kafka), {lines:,} lines",
                    lines / publish_s, "lines/s", "wm tail without --publish", lines / plain_s,
                    target=0.5,
                    note=f"peak RSS {publish_rss:.0f} MiB publishing, {plain_rss:.0f} MiB not;"
                    f" CPU {publish_cpu:.1f}s against {plain_cpu:.1f}s",
                )
            )  # fmt: skip

            # 2. flush into PostgreSQL, against a raw COPY
            copy_s = raw_copy(db_url, copy_file)
            copy_rate = lines / copy_s
            log(f"hits: raw COPY {copy_rate:,.0f} rows/s")
            reset(db_url)
            flush_s, flushed = flush(bootstrap, db_url, topic, f"bench-{topic}", lines)
            rows, distinct = stored(db_url)
            log(f"hits: wm flush {flushed / flush_s:,.0f} rows/s; {rows:,} rows, {distinct:,} ids")
            results.append(
                Result(
                    "hits/2 flush", f"wm flush -t (Kafka -> PostgreSQL), {lines:,} hits",
                    flushed / flush_s, "rows/s", "raw COPY of the same rows", copy_rate,
                    target=0.5, note="timed until the offsets are committed and the rollups"
                    " hold every hit",
                )
            )  # fmt: skip

            # 6. exactly once through Kafka: every line once; the same file again adds nothing
            measure(tail_argv(access, *kafka), env)
            _, again = flush(bootstrap, db_url, topic, f"bench-{topic}", lines)
            rows_again, distinct_again = stored(db_url)
            log(f"hits: again: flush stored {again}; {rows_again:,} rows, {distinct_again:,} ids")
            once = rows == distinct == lines and rows_again == rows and again == 0
            results.append(
                Result(
                    "hits/6 once", "rows stored after the file went through Kafka twice",
                    rows_again, "rows", "lines in the file", lines, target=1.0,
                    note=f"exactly once {'holds' if once else 'FAILS'}: first pass {rows:,} rows,"
                    f" {distinct:,} distinct ids for {lines:,} lines; the second pass stored"
                    f" {again:,} more ({rows_again:,} rows, {distinct_again:,} distinct ids)",
                )
            )  # fmt: skip
            if not once:
                results[-1].value = 0  # met only when every check holds

            # 3. straight to PostgreSQL, and to SQLite
            reset(db_url)
            direct_s, _, direct_rss = measure(tail_argv(access, "--publish", "-d", db_url), env)
            direct_rows, _ = stored(db_url)
            measure(tail_argv(access, "--publish", "-d", db_url), env)
            direct_again, _ = stored(db_url)
            log(f"hits: wm tail --publish -d PG {lines / direct_s:,.0f} lines/s")
            results.append(
                Result(
                    "hits/3 tail -d pg", f"wm tail --publish -d postgresql, {lines:,} lines",
                    lines / direct_s, "rows/s", "raw COPY of the same rows", copy_rate,
                    target=0.5, note=f"{direct_rows:,} rows stored, {direct_again:,} after"
                    f" reading the file again; peak RSS {direct_rss:.0f} MiB",
                )
            )  # fmt: skip
            sqlite_path = tmp / "tail.db"
            sqlite_s, _, _ = measure(
                tail_argv(access, "--publish", "-d", f"sqlite:///{sqlite_path}"), env
            )
            bare_s = bare_executemany(tmp / "bare.db", access)
            log(f"hits: tail -d SQLite {lines / sqlite_s:,.0f}/s, bare {lines / bare_s:,.0f}/s")
            results.append(
                Result(
                    "hits/3 tail -d sqlite", f"wm tail --publish -d sqlite, {lines:,} lines",
                    lines / sqlite_s, "rows/s", "bare executemany of the same rows",
                    lines / bare_s, target=0.5,
                )
            )  # fmt: skip

            # 4. POST /api/logs
            reset(db_url)
            post_s = post_logs(db_url, access)
            log(f"hits: POST /api/logs {lines / post_s:,.0f} lines/s")
            results.append(
                Result(
                    "hits/4 POST", "POST /api/logs, 1,000-line batches, 4 clients",
                    lines / post_s, "rows/s", "raw COPY of the same rows", copy_rate,
                    target=0.25,
                )
            )  # fmt: skip
    # 5. stats from the rollups
    if stats_count:
        with scratch_database("hitstats") as db_url:
            results.extend(stats_rows(db_url, stats_count))
    return results


def run_size(size: str) -> list[Result]:
    """What `python -m bench --size SIZE` runs."""
    lines = SIZES[size]
    return run(lines, 10 * lines)


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=SIZES["large"], help="lines in the log")
    parser.add_argument("--file", help="a Combined-format log to use instead of generating one")
    parser.add_argument(
        "--stats-rows", type=int, help="hits generated for goal 5 (default 10 x --lines; 0: skip)"
    )
    args = parser.parse_args(argv)
    stats_count = 10 * args.lines if args.stats_rows is None else args.stats_rows
    results = run(args.lines, stats_count, args.file)
    print(table(results))
    return results


if __name__ == "__main__":
    main()
