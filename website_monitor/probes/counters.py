"""Prometheus' view of the probes: cumulative counts per URL, phase and duration bucket.

`/metrics` exports `wm_probe_duration_seconds` (a histogram per URL and phase)
and `wm_probes_total`. Computing them from every stored row at each scrape
made a scrape cost as much as the store is large (8-9 s at 10M rows). The
rollups' catch-up adds each new row to `probe_counters` once; a scrape reads
those few rows and the rows not rolled up yet, whatever the store's size.
The counts only grow (pruning raw rows leaves them), as Prometheus counters must.

The bucket bounds (`BOUNDS_MS`, 1 ms to 60 s, each about 1.6 times the one
before) keep `histogram_quantile`'s linear interpolation within a bucket useful
for p50, p95 and p99 of web latencies: the estimate is off by at most the
bucket's width, under 60 % of the value and usually far less.
"""

from __future__ import annotations

from collections.abc import Sequence

from website_monitor.store import Reader, Row, Transaction

TABLE = "probe_counters"
#: Upper bounds of the duration buckets, in milliseconds; a value above the last is +Inf.
BOUNDS_MS = (
    1, 1.5, 2.5, 4, 6, 10, 15, 25, 40, 60, 100, 150, 250, 400, 600,
    1_000, 1_500, 2_500, 4_000, 6_000, 10_000, 15_000, 25_000, 40_000, 60_000,
)  # fmt: skip
#: Phase label -> column (milliseconds); `checks` counts every result (its bucket is 0).
PHASES = (
    ("total", "response_time_ms"),
    ("dns", "dns_ms"),
    ("connect", "connect_ms"),
    ("tls", "tls_ms"),
    ("ttfb", "ttfb_ms"),
)
CHECKS = "checks"


def bucket_sql(value: str) -> str:
    """The index of the first bound at or above `value` (len(BOUNDS_MS): above them all)."""
    cases = " ".join(f"WHEN {value} <= {bound} THEN {i}" for i, bound in enumerate(BOUNDS_MS))
    return f"CASE {cases} ELSE {len(BOUNDS_MS)} END"


def _rows(where: str) -> str:
    """Per URL, phase and bucket: count and sum of the url_probes rows matching `where`."""
    parts = [
        f"SELECT url, '{CHECKS}' AS phase, 0 AS bucket, 0.0 AS v FROM url_probes WHERE {where}"
    ]
    parts.extend(
        f"SELECT url, '{phase}' AS phase, {bucket_sql(column)} AS bucket, {column} AS v"
        f" FROM url_probes WHERE {where} AND {column} IS NOT NULL"
        for phase, column in PHASES
    )
    return (
        "SELECT url, phase, bucket, count(*) AS count, sum(v) AS sum_ms"
        f" FROM ({' UNION ALL '.join(parts)}) AS x GROUP BY url, phase, bucket"
    )


class Counters:
    """`probe_counters`, as an extra table of the probes' rollups (`rollups.spec.Extra`)."""

    def add(self, tx: Transaction, lo: int, hi: int, now: float) -> None:
        if hi <= lo:
            return
        mark = tx.dialect.placeholder
        key = tx.dialect.text_key("url")
        params = (lo, hi) * (len(PHASES) + 1)
        tx.execute(
            f"INSERT INTO {TABLE} AS r (url, phase, bucket, count, sum_ms)"
            f" {_rows(f'id > {mark} AND id <= {mark}')} ORDER BY 1, 2, 3"
            f" ON CONFLICT ({key}, phase, bucket) DO UPDATE SET count = r.count + excluded.count,"
            " sum_ms = r.sum_ms + excluded.sum_ms",
            params,
        )

    def rebuild(self, tx: Transaction, upto: int, now: float) -> None:
        tx.execute(f"DELETE FROM {TABLE}")
        mark = tx.dialect.placeholder
        tx.execute(
            f"INSERT INTO {TABLE} (url, phase, bucket, count, sum_ms) {_rows(f'id <= {mark}')}",
            (upto,) * (len(PHASES) + 1),
        )


def counter_rows(reader: Reader, rolled_up_to: int) -> Sequence[Row]:
    """The counters, with the rows not rolled up yet added: per URL, phase and bucket."""
    mark = reader.dialect.placeholder
    return reader.query(
        "SELECT url, phase, bucket, sum(count) AS count, sum(sum_ms) AS sum_ms FROM ("
        f"SELECT url, phase, bucket, count, sum_ms FROM {TABLE}"
        f" UNION ALL {_rows(f'id > {mark}')}) AS x"
        " GROUP BY url, phase, bucket ORDER BY url, phase, bucket",
        (rolled_up_to,) * (len(PHASES) + 1),
    )
