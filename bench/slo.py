"""SLOs: `wm slo` over a year of probes from the rollups, against counting the raw rows.

Rows are generated as bench.stats generates them (10 URLs probed every 30 s up
to now: 10M rows = about a year; 2 % 503s, 1 % timeouts, lognormal latencies)
and rolled up with `wm db rebuild-rollups`' code. Timed, best of 3, each
against its baseline measured in the same run:

* the SLI over 365 days of the 10 URLs (`alerts.slo.counts`: weeks, days and
  the raw rows of the partial days) against one exact count over the raw rows;
* the same with `latency_ms = 300` (good = ok and faster: histogram buckets
  against the raw comparison), with the relative error of the good count;
* a whole `wm slo` report (the 365-day window and the six burn-rate windows)
  against the same counts taken from the raw rows only;
* one `wm alert` evaluation pass (a site-down rule on the 10 URLs and that
  SLO's burn rates, no new checks) against the default period between passes.

Usage: python -m bench.slo [--size small|large] [--rows N]
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta, timezone
from typing import Any

from bench._common import Result, Timer, log, scratch_database, table
from bench.stats import SIZES, URLS, generate
from website_monitor.alerts import evaluate, rules, slo
from website_monitor.probes import rollups as maintain
from website_monitor.store import Repository, open_store

YEAR = 365 * 86400


def best(repository: Repository, runs: int, call: Any) -> tuple[float, Any]:
    fastest, result = float("inf"), None
    for _ in range(runs):
        with Timer() as timer, repository.snapshot() as reader:
            result = call(reader)
        fastest = min(fastest, timer.elapsed)
    return fastest, result


def raw_report(reader: Any, objective: rules.Slo, urls: list[str], now: datetime) -> list[Any]:
    """The counts of the window and every burn-rate window, from the raw rows only."""
    windows = [objective.window, *slo.WINDOWS.values()]
    return [
        slo._raw(reader, urls, now - timedelta(seconds=s), now, objective.latency_ms)
        for s in windows
    ]


def run(rows: int) -> list[Result]:
    results = []
    urls = [f"https://site-{i}.example/health" for i in range(URLS)]
    with scratch_database("slo") as db_url, open_store(db_url) as repository:
        log(f"slo: generating {rows:,} rows")
        with Timer() as generation:
            generate(repository, rows)
        with Timer() as rebuild:
            maintain.rebuild(repository)
        repository.execute("ANALYZE rollup_summary")
        repository.execute("ANALYZE rollup_latency")
        log(f"slo: generated in {generation.elapsed:.0f}s, rolled up in {rebuild.elapsed:.0f}s")
        now = datetime.now(timezone.utc)
        since = now - timedelta(seconds=YEAR)
        for latency in (None, 300.0):
            label = "ok" if latency is None else "ok and under 300 ms"
            raw_s, exact = best(
                repository, 3, lambda r, ms=latency: slo._raw(r, urls, since, now, ms)
            )
            fast_s, found = best(
                repository, 3, lambda r, ms=latency: slo.counts(r, urls, since, now, ms)
            )
            assert found.total == exact.total, (found, exact)
            error = abs(found.good - exact.good) / exact.good
            if latency is None:
                assert found.good == exact.good, (found, exact)
            log(f"slo: 365d SLI ({label}): rollups {fast_s:.3f}s, raw {raw_s:.2f}s, {error:.4%}")
            results.append(
                Result(
                    "slo",
                    f"SLI over 365 days, good = {label}, {exact.total:,} checks, from rollups"
                    f" (good count off by {error:.3%})",
                    fast_s,
                    "s",
                    "exact count over the raw rows",
                    raw_s,
                    target=20 if latency is None else None,
                    higher_is_better=False,
                )
            )
        objective = rules.Slo(
            "year", rules.Targets(tuple(urls)), 99.0, float(YEAR), "365d", None, ()
        )
        report_s, report = best(repository, 3, lambda r: slo.report(r, objective, now))
        raw_s, _ = best(repository, 3, lambda r: raw_report(r, objective, urls, now))
        log(f"slo: wm slo report: {report_s:.3f}s, raw {raw_s:.2f}s; sli {report.sli}")
        results.append(
            Result(
                "slo",
                "wm slo: 365-day window and six burn-rate windows",
                report_s,
                "s",
                "the same counts from the raw rows",
                raw_s,
                higher_is_better=False,
            )
        )
        alerting = rules.Alerting(
            alerts=(rules.AlertRule("down", rules.Targets(tuple(urls))),), slos=(objective,)
        )
        evaluate.evaluate(repository, alerting)  # the first pass sets the position up
        passes = []
        for _ in range(3):
            with Timer() as timer:
                evaluate.evaluate(repository, alerting)
            passes.append(timer.elapsed)
        log(f"slo: wm alert pass: {min(passes):.3f}s")
        results.append(
            Result(
                "slo",
                "one wm alert pass: down rule on 10 URLs, the SLO's burn rates",
                min(passes),
                "s",
                "wm alert's default --every",
                10.0,
                higher_is_better=False,
                note=f"{rows:,} rows generated in {generation.elapsed:.0f}s,"
                f" rolled up in {rebuild.elapsed:.0f}s",
            )
        )
    return results


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
