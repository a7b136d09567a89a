"""Goal 5 of bench/hits.py: `wm stats --hits` from the rollups against the raw rows.

Hits are generated in PostgreSQL with generate_series over the last 30 days:
4 sources, 12 sections, lognormal sizes (a different median per section), 2 %
5xx and 6 % 404. The rollups are rebuilt with `wm db rebuild-rollups`' code, then
`logs.queries.hit_stats` (what `wm stats --hits` prints) is timed all-time from
the rollups (best of 3) and from the raw rows (percentile_cont, run once):
counts, errors and bytes must match exactly, the size percentiles within 1 %.
"""

from __future__ import annotations

from bench._common import Result, Timer, log
from website_monitor.logs import queries, rollups
from website_monitor.logs.models import HitSection
from website_monitor.store import open_store

SECTIONS = (
    "/", "/api", "/static", "/product", "/search", "/blog", "/images", "/login",
    "/health", "/cart", "/account", "/feed",
)  # fmt: skip


def generate(db_url: str, rows: int) -> None:
    array = "ARRAY[" + ", ".join(f"'{s}'" for s in SECTIONS) + "]"
    with open_store(db_url) as repository:
        repository.execute(
            f"""INSERT INTO hits (event_id, timestamp, source, remote_host, "user", method, path,
                section, status, bytes, referer, user_agent)
            SELECT gen_random_uuid(),
                   now() - make_interval(secs => ({rows} - i) * (30 * 86400.0 / {rows})),
                   'web-' || mod(i, 4), '10.0.' || mod(i, 200) || '.' || mod(i, 251), NULL,
                   'GET', s || '/item/' || mod(i, 1000), s,
                   CASE WHEN r < 0.02 THEN 503 WHEN r < 0.08 THEN 404 ELSE 200 END,
                   round(exp(6 + k * 0.4
                       + 1.1 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())))::bigint,
                   NULL, 'Mozilla/5.0'
            FROM (
                SELECT i, random() AS r, mod(i * 7, {len(SECTIONS)}) AS k,
                       ({array})[1 + mod(i * 7, {len(SECTIONS)})] AS s
                FROM generate_series(0, {rows} - 1) AS i
            ) AS g"""
        )
        repository.execute("ANALYZE hits")


def check(exact: list[HitSection], approx: list[HitSection]) -> float:
    """The worst relative error of the size percentiles; counts must match exactly."""
    assert [(e.section, e.hits, e.errors, e.bytes) for e in exact] == [
        (a.section, a.hits, a.errors, a.bytes) for a in approx
    ], "rollups and raw rows disagree on counts"
    worst = 0.0
    for e, a in zip(exact, approx, strict=True):
        for name, _ in queries.SIZE_PERCENTILES:
            want, got = getattr(e, name), getattr(a, name)
            worst = max(worst, abs(got - want) / want if want else abs(got - want))
    return worst


def run(db_url: str, rows: int) -> list[Result]:
    open_store(db_url).close()  # migrated
    log(f"hits/stats: generating {rows:,} hits")
    with Timer() as generation:
        generate(db_url, rows)
    with open_store(db_url) as repository:
        log(f"hits/stats: generated in {generation.elapsed:.0f}s; rebuilding the rollups")
        with Timer() as rebuild:
            counts = rollups.rebuild(repository)
        repository.execute("ANALYZE hit_summary")
        repository.execute("ANALYZE hit_histogram")
        with Timer() as exact_timer:
            exact = queries.hit_stats(repository, source="exact")
        best = float("inf")
        approx: list[HitSection] = []
        for _ in range(3):
            with Timer() as timer:
                approx = queries.hit_stats(repository, source="rollups")
            best = min(best, timer.elapsed)
        auto = queries.hit_stats(repository)
    error = check(exact, approx)
    assert auto == approx, "wm stats --hits does not answer from the rollups"
    log(f"hits/stats: exact {exact_timer.elapsed:.2f}s, rollups {best:.4f}s, error {error:.3%}")
    if error > 0.01:
        raise AssertionError(f"size percentile error {error:.3%} exceeds 1 %")
    return [
        Result(
            "hits/5 stats",
            f"wm stats --hits, {rows:,} hits, from rollups (worst size percentile error"
            f" {error:.3%}, counts exact)",
            best,
            "s",
            "the raw-row query (percentile_cont)",
            exact_timer.elapsed,
            target=20,
            higher_is_better=False,
            note=f"rollups rebuilt from {rows:,} hits in {rebuild.elapsed:.1f}s: {counts}",
        )
    ]
