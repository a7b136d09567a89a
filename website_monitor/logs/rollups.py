"""The access-log hits' rollups: per source and section, response sizes.

Declared for the rollup engine (`website_monitor.rollups`): day and week
summaries (hits, 5xx responses, bytes sent, smallest and largest response)
and histograms of response sizes, kept by the same catch-ups as the probes',
answer `wm stats --hits` over long ranges. `hit_totals` counts the hits per
source for `/metrics`, whatever is pruned.
"""

from __future__ import annotations

from typing import Any

from website_monitor.rollups import maintain
from website_monitor.rollups.maintain import Maintained
from website_monitor.rollups.spec import Key, Rollup
from website_monitor.store import Reader, Repository, Row, Transaction

TOTALS = "hit_totals"


class Totals:
    """`hit_totals`: hits per source, as an extra table of the rollups (`rollups.spec.Extra`)."""

    def add(self, tx: Transaction, lo: int, hi: int, now: float) -> None:
        if hi <= lo:
            return
        mark = tx.dialect.placeholder
        tx.execute(
            f"INSERT INTO {TOTALS} AS r (source, hits) SELECT source, count(*) FROM hits"
            f" WHERE id > {mark} AND id <= {mark} GROUP BY source"
            f" ON CONFLICT ({tx.dialect.text_key('source')})"
            " DO UPDATE SET hits = r.hits + excluded.hits",
            (lo, hi),
        )

    def rebuild(self, tx: Transaction, upto: int, now: float) -> None:
        tx.execute(f"DELETE FROM {TOTALS}")
        tx.execute(
            f"INSERT INTO {TOTALS} (source, hits) SELECT source, count(*) FROM hits"
            f" WHERE id <= {tx.dialect.placeholder} GROUP BY source",
            (upto,),
        )


ROLLUP = Rollup(
    raw="hits",
    state="hit_rollup_state",
    summary="hit_summary",
    histogram="hit_histogram",
    keys=(Key("source", "source", long=True), Key("section", "section", long=True)),
    value="bytes",
    counts=(
        ("hits", "1"),
        ("errors", "CASE WHEN status >= 500 AND status < 600 THEN 1 ELSE 0 END"),
    ),
    total="sum_bytes",
    minimum="min_bytes",
    maximum="max_bytes",
    lock=0x776D_6872,  # "wmhr"
    extras=(Totals(),),
)

DERIVED = Maintained(ROLLUP)


def catch_up(repository: Repository, **options: Any) -> int:
    """`rollups.maintain.catch_up` of the hits' rollups."""
    return maintain.catch_up(repository, ROLLUP, **options)


def rebuild(repository: Repository) -> dict[str, int]:
    return maintain.rebuild(repository, ROLLUP)


def pending(reader: Reader) -> int:
    return maintain.pending(reader, ROLLUP)


def totals(reader: Reader) -> list[Row]:
    """Hits per source: the totals, and the hits not rolled up yet."""
    mark = reader.dialect.placeholder
    return reader.query(
        "SELECT source, sum(hits) AS hits FROM ("
        f"SELECT source, hits FROM {TOTALS} UNION ALL"
        f" SELECT source, count(*) AS hits FROM hits WHERE id > {mark} GROUP BY source"
        ") AS x GROUP BY source ORDER BY source",
        (maintain.rolled_up_to(reader, ROLLUP),),
    )
