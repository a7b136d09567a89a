"""Stats: `wm stats` from the rollups against exact percentile_cont, on generated rows.

Rows are generated in PostgreSQL with generate_series: 10 URLs probed every
30 s up to now (1M rows = about 35 days, 10M = about a year), lognormal
latencies with a different median per URL, 2 % 503s and 1 % timeouts. The
rollups are then built with `wm db rebuild-rollups`' code (timed too), and
two queries are timed through `website_monitor.stats.probe_stats`:

* all time (day rows only);
* `--since 30d` with an unaligned start (raw rows of the partial day, then days);

each exact (percentile_cont over the raw rows, the baseline, run once) and
from the rollups (best of 3), with the worst relative error of p50/p95/p99.

Usage: python -m bench.stats [--size small|large] [--rows N]
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta, timezone
from typing import Any

from bench import views
from bench._common import Result, Timer, log, scratch_database, table
from website_monitor.probes import rollups, stats
from website_monitor.store import Repository, open_store

SIZES = {"small": 1_000_000, "large": 10_000_000}
URLS = views.URLS


def generate(repository: Repository, rows: int) -> None:
    """The rows in their monthly partitions, indexes built after (as bench.views does)."""
    views.fill(repository, rows, hits=False)


def worst_error(exact: list[Any], approx: list[Any]) -> float:
    """The worst relative error of p50/p95/p99 (entries are `StatsEntry`)."""
    assert [(e.url, e.probes, e.errors) for e in exact] == [
        (a.url, a.probes, a.errors) for a in approx
    ], "rollups and exact disagree on counts"
    worst = 0.0
    for e, a in zip(exact, approx, strict=True):
        for name, _ in stats.PERCENTILES:
            worst = max(worst, abs(getattr(a, name) - getattr(e, name)) / getattr(e, name))
    return worst


def timed(repository: Repository, query: stats.StatsQuery, runs: int) -> tuple[float, Any]:
    best = float("inf")
    result: Any = None
    for _ in range(runs):
        with Timer() as timer:
            result = stats.probe_stats(repository, query)
        best = min(best, timer.elapsed)
    return best, result


def run(rows: int) -> list[Result]:
    results = []
    with scratch_database("stats") as db_url, open_store(db_url) as repository:
        log(f"stats: generating {rows:,} rows")
        with Timer() as generation:
            generate(repository, rows)
        log(f"stats: generated in {generation.elapsed:.1f}s; rebuilding the rollups")
        with Timer() as rebuild:
            counts = rollups.rebuild(repository)
        repository.execute("ANALYZE rollup_summary")
        repository.execute("ANALYZE rollup_latency")
        levels = {
            row["width"]: int(row["n"])
            for row in repository.query(
                "SELECT width, count(*) AS n FROM rollup_latency GROUP BY width"
            )
        }
        log(f"stats: rollups rebuilt in {rebuild.elapsed:.1f}s: {counts}, by width {levels}")
        now = datetime.now(timezone.utc)
        since = (now - timedelta(days=30)).replace(minute=17, second=3, microsecond=0)
        for label, query in (
            ("all time", stats.StatsQuery()),
            ("--since 30d (unaligned)", stats.StatsQuery(since=since)),
        ):
            assert stats.choose_source(repository, query) == "rollups"
            exact_s, exact = timed(repository, stats.StatsQuery(**_fields(query, "exact")), 1)
            rollup_s, approx = timed(repository, query, 3)
            error = worst_error(exact, approx)
            log(f"stats: {label}: exact {exact_s:.2f}s, rollups {rollup_s:.3f}s, error {error:.4%}")
            results.append(
                Result(
                    "stats",
                    f"wm stats {label}, {rows:,} rows, from rollups"
                    f" (worst p50/p95/p99 error {error:.3%})",
                    rollup_s,
                    "s",
                    "exact percentile_cont",
                    exact_s,
                    target=20 if label == "all time" else None,
                    higher_is_better=False,
                    note=(
                        f"rollups rebuilt from {rows:,} rows in {rebuild.elapsed:.1f}s:"
                        f" {levels.get(604_800, 0):,} week and {levels.get(86_400, 0):,} day"
                        f" histogram rows, {counts['rollup_summary']:,} summary rows"
                        if label == "all time"
                        else ""
                    ),
                )
            )
            if error > 0.01:
                raise AssertionError(f"rollup error {error:.3%} exceeds 1 %")
    return results


def _fields(query: stats.StatsQuery, source: str) -> dict[str, Any]:
    return {"urls": query.urls, "since": query.since, "until": query.until, "source": source}


def run_size(size: str) -> list[Result]:
    """What `python -m bench --size SIZE` runs."""
    return run(SIZES[size])


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--rows", type=int)
    args = parser.parse_args(argv)
    results = run(args.rows or SIZES[args.size])
    print(table(results))
    return results


if __name__ == "__main__":
    main()
