"""Views at scale: `wm serve`'s requests, `wm top` and the dashboard on a large store.

The store is generated in PostgreSQL: N probes (10 URLs every 30 s up to now;
10M = about a year, as bench/stats.py makes them) and N access-log hits over
the same year, then the rollups are rebuilt. `wm serve` runs on it (uvicorn,
in this process), and each request is timed (median of 5, after one warm-up)
and printed as a ratio to the baseline measured in the same run: an exact
`percentile_cont` of every URL's response times over all the raw rows, what
a view would cost that read them. Goal: each request under 100 ms and at
least 100 times faster than the baseline; `wm top` draws a frame in under
300 ms; the dashboard's default view loads in headless Chromium in under a
second; pruning a month of raw rows takes under a second.

Usage: python -m bench.views [--size small|large] [--rows N] [--no-browser]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

from bench._common import Result, Timer, log, scratch_database, table
from tests import services
from tests.webserver import serving
from website_monitor import housekeeping, top
from website_monitor.store import Repository, open_store, partitioning

SIZES = {"small": 1_000_000, "large": 10_000_000}
URLS = 10
SOURCES = 3
SECTIONS = ("/", "/api", "/static", "/login", "/search", "/cart", "/checkout", "/img")
REQUESTS = (
    "/metrics",
    "/api/probes/series",
    "/api/probes/series?since=30d",
    "/api/probes/latest",
    "/api/store",
    "/api/stats",
    "/api/hits?since=1h",
    "/api/hits/series?since=1h",
)


def without_indexes(repository: Repository, table_name: str, fill: Callable[[], None]) -> None:
    """Run `fill` with the table's indexes dropped (but those of constraints), then build
    them again."""
    kept = [
        (row["indexname"], row["indexdef"])
        for row in repository.query(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname"
            " NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
            (table_name, table_name),
        )
    ]
    for name, _ in kept:
        repository.execute(f"DROP INDEX {name}")
    fill()
    for _, definition in kept:
        # A partitioned table's index reads `ON ONLY table`: built that way it would
        # cover no partition.
        repository.execute(definition.replace(" ON ONLY ", " ON "))
    repository.execute(f"ANALYZE {table_name}")


def generate_probes(repository: Repository, rows: int) -> None:
    repository.execute(
        f"""INSERT INTO url_probes (event_id, url, timestamp, http_status_code,
            response_time_ms, error, ok, ttfb_ms)
        SELECT gen_random_uuid(),
               'https://site-' || mod(i, {URLS}) || '.example/health',
               now() - make_interval(secs => ({rows} - i) / {URLS} * 30.0 + random()),
               CASE WHEN r < 0.01 THEN NULL WHEN r < 0.03 THEN 503 ELSE 200 END,
               CASE WHEN r < 0.01 THEN NULL ELSE v END,
               CASE WHEN r < 0.01 THEN 'timeout' END,
               r >= 0.03,
               CASE WHEN r < 0.01 THEN NULL ELSE v * 0.7 END
        FROM (
            SELECT i, random() AS r,
                   round(exp(ln(60 + 25 * mod(i, {URLS}))
                       + 0.6 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))::numeric,
                       3)::double precision AS v
            FROM generate_series(0, {rows} - 1) AS i
        ) AS g"""
    )


def generate_hits(repository: Repository, rows: int, seconds: float) -> None:
    sections = "ARRAY[" + ", ".join(f"'{s}'" for s in SECTIONS) + "]"
    repository.execute(
        f"""INSERT INTO hits (event_id, timestamp, source, remote_host, method, path,
            section, status, bytes, user_agent)
        SELECT gen_random_uuid(),
               now() - make_interval(secs => ({rows} - i) * {seconds / rows!r}),
               'web-' || mod(i, {SOURCES}),
               '10.0.' || mod(i, 250) || '.' || mod(i / 250, 250),
               'GET', s || '/item/' || mod(i, 1000), s,
               CASE WHEN r < 0.01 THEN 503 WHEN r < 0.05 THEN 404 ELSE 200 END,
               (exp(7 + 1.5 * random()))::bigint, 'Mozilla/5.0 (bench)'
        FROM (
            SELECT i, random() AS r, ({sections})[1 + mod(i * 7, {len(SECTIONS)})] AS s
            FROM generate_series(0, {rows} - 1) AS i
        ) AS g"""
    )


def make_partitions(repository: Repository, seconds: float) -> None:
    """The monthly partitions of the generated span, so rows land in their month rather
    than the default partition (as they do in a store written month by month)."""
    now = datetime.now(timezone.utc)
    first = now - timedelta(seconds=seconds)
    count = (now.year - first.year) * 12 + now.month - first.month + 1
    for table_name in ("url_probes", "hits"):
        with repository.transaction() as tx:
            have = partitioning.children(tx, table_name) or set()
            for start, end in partitioning.months(first, count):
                name = partitioning.name(table_name, start)
                if name not in have:
                    partitioning.create(tx, table_name, name, start, end)


def fill(repository: Repository, rows: int, hits: bool = True) -> None:
    """`rows` probes (and as many hits over the same span), each in its monthly partition
    as in a store written month by month. The caller rebuilds the derived tables."""
    span = rows / URLS * 30.0
    make_partitions(repository, span)
    without_indexes(repository, "url_probes", lambda: generate_probes(repository, rows))
    if hits:
        without_indexes(repository, "hits", lambda: generate_hits(repository, rows, span))


class _Undone(Exception):
    """Raised to roll a transaction back."""


def prune_a_month(repository: Repository) -> tuple[float, float, int] | None:
    """(seconds, baseline seconds, rows) of pruning the oldest whole month of raw probes
    and hits; the baseline deletes the same rows with DELETE (rolled back)."""
    oldest = repository.scalar("SELECT min(timestamp) FROM url_probes")
    now = datetime.now(timezone.utc)
    # First prune up to the first month boundary (the oldest month is partial), then the
    # timed prune drops the whole month after it.
    start = next(partitioning.months(oldest, 1))[1]
    end = next(partitioning.months(start, 1))[1]
    if end > now - timedelta(days=7):
        return None  # the span holds no whole month before the last week
    housekeeping.prune(repository, (now - start).total_seconds())
    rows = sum(
        int(repository.scalar(f"SELECT count(*) FROM {t} WHERE timestamp < %s", (end,)))
        for t in ("url_probes", "hits")
    )
    with Timer() as deleting, contextlib.suppress(_Undone), repository.transaction() as tx:
        for t in ("url_probes", "hits"):
            tx.execute(f"DELETE FROM {t} WHERE timestamp < %s", (end,))
        raise _Undone  # the rows stay, for the prune below
    with Timer() as pruning:
        housekeeping.prune(repository, (now - end).total_seconds())
    return pruning.elapsed, deleting.elapsed, rows


def timed(call: Callable[[], object], runs: int = 5) -> float:
    call()  # warm-up
    times = []
    for _ in range(runs):
        with Timer() as timer:
            call()
        times.append(timer.elapsed)
    return statistics.median(times)


def baseline(repository: Repository) -> float:
    """An exact percentile_cont of every URL's response times over all raw rows."""
    with Timer() as timer:
        repository.query(
            "SELECT url, percentile_cont(0.5) WITHIN GROUP (ORDER BY response_time_ms),"
            " percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms),"
            " percentile_cont(0.99) WITHIN GROUP (ORDER BY response_time_ms)"
            " FROM url_probes GROUP BY url"
        )
    return timer.elapsed


def dashboard_load(base: str) -> float:
    """Seconds from navigation until the page says it is ready (every panel drawn)."""
    with tempfile.TemporaryDirectory() as profile, services.chromium(Path(profile)) as driver:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            driver.get(base + "/")
            while driver.execute_script("return document.body.dataset.ready") != "true":
                if time.perf_counter() - started > 60:
                    raise AssertionError("the dashboard did not load within 60 s")
                time.sleep(0.01)
            times.append(time.perf_counter() - started)
        return statistics.median(times)


def run(rows: int, browser: bool = True) -> list[Result]:
    results: list[Result] = []
    with scratch_database("views") as db_url, open_store(db_url) as repository:
        log(f"views: generating {rows:,} probes and {rows:,} hits")
        with Timer() as generation:
            fill(repository, rows)
        log(f"views: generated in {generation.elapsed:.1f}s; rebuilding the rollups")
        with Timer() as rebuild:
            counts = housekeeping.rebuild(repository)
        repository.execute("ANALYZE")
        log(f"views: derived tables rebuilt in {rebuild.elapsed:.1f}s: {counts}")
        exact = baseline(repository)
        log(f"views: baseline (exact percentile_cont over {rows:,} rows) {exact:.2f}s")
        label = f"{rows:,} probes + {rows:,} hits"
        with serving(db_url) as served:
            for path in REQUESTS:
                seconds = timed(lambda path=path: _get(served.base + path))  # type: ignore[misc]
                log(f"views: {path} {seconds * 1000:.1f} ms")
                results.append(
                    Result(
                        "views",
                        f"GET {path}, {label}",
                        seconds,
                        "s",
                        "exact percentile_cont, all rows",
                        exact,
                        target=100,
                        higher_is_better=False,
                        note="" if seconds <= 0.1 else f"{path} over 100 ms",
                    )
                )
            frame = timed(lambda: _top_frame(repository))
            log(f"views: wm top frame {frame * 1000:.1f} ms")
            results.append(
                Result(
                    "views",
                    f"wm top frame, {label}",
                    frame,
                    "s",
                    "exact percentile_cont, all rows",
                    exact,
                    higher_is_better=False,
                    note="" if frame <= 0.3 else "wm top frame over 300 ms",
                )
            )
            measured = prune_a_month(repository)
            if measured is None:
                log("views: the store spans no whole month; pruning not measured")
            else:
                pruned, deleting, month_rows = measured
                log(
                    f"views: prune of a month ({month_rows:,} rows) {pruned * 1000:.0f} ms,"
                    f" DELETE of the same rows {deleting * 1000:.0f} ms"
                )
                results.append(
                    Result(
                        "views",
                        f"wm db prune of a month ({month_rows:,} raw rows), {label}",
                        pruned,
                        "s",
                        "DELETE of the same rows",
                        deleting,
                        higher_is_better=False,
                        note="" if pruned <= 1 else "prune of a month over 1 s",
                    )
                )
            if browser:
                load = dashboard_load(served.base)
                log(f"views: dashboard default view {load * 1000:.0f} ms")
                results.append(
                    Result(
                        "views",
                        f"dashboard default view in Chromium, {label}",
                        load,
                        "s",
                        "exact percentile_cont, all rows",
                        exact,
                        higher_is_better=False,
                        note="" if load <= 1 else "dashboard over 1 s",
                    )
                )
    return results


def _get(url: str) -> None:
    response = requests.get(url, timeout=120)
    response.raise_for_status()


def _top_frame(repository: Repository) -> None:
    from rich.console import Console

    snapshot = top.snapshot(repository, 3600)
    Console(file=io.StringIO(), width=160).print(top.render(snapshot))


def run_size(size: str) -> list[Result]:
    """What `python -m bench --size SIZE` runs."""
    return run(SIZES[size])


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args(argv)
    results = run(args.rows or SIZES[args.size], browser=not args.no_browser)
    print(table(results))
    return results


if __name__ == "__main__":
    main()
