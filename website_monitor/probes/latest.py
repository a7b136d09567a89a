"""The newest result of each URL, kept in `probe_latest` by the rollups' catch-ups.

Reading the newest row per URL from url_probes means a pass over every URL's
history (1.6 s at 10M rows); the catch-up instead keeps one row per URL,
replaced when a newer result (by timestamp, then id) is rolled up. Reads take
that table and the rows not rolled up yet, so they never lag the store.
"""

from __future__ import annotations

from datetime import datetime

from website_monitor.store import Reader, Row, Transaction
from website_monitor.times import as_utc

TABLE = "probe_latest"
#: The columns kept per URL: those the API shows for a result (`queries.PROBE_FIELDS`).
COLUMNS = (
    "id",
    "url",
    "timestamp",
    "http_status_code",
    "response_time_ms",
    "error",
    "ok",
    "dns_ms",
    "connect_ms",
    "tls_ms",
    "ttfb_ms",
    "location",
    "cert_expires_at",
    "cert_issuer",
    "failed_condition",
)
_NAMES = ", ".join(COLUMNS)


def _newest(where: str) -> str:
    """The newest of the url_probes rows matching `where`, per URL; `where` comes twice
    (its parameters too).

    The ranking sorts only (url, timestamp, id), and the winners' whole rows are read
    after: sorting every column of every row cost a third more.
    """
    return (
        f"SELECT {_NAMES} FROM url_probes WHERE {where} AND id IN (SELECT id FROM"
        " (SELECT id, row_number() OVER (PARTITION BY url ORDER BY timestamp DESC, id DESC)"
        f" AS rank FROM url_probes WHERE {where}) AS ranked WHERE rank = 1)"
    )


class Latest:
    """`probe_latest`, as an extra table of the probes' rollups (`rollups.spec.Extra`)."""

    def add(self, tx: Transaction, lo: int, hi: int, now: float) -> None:
        if hi <= lo:
            return
        dialect = tx.dialect
        mark = dialect.placeholder
        newer = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "url")
        tx.execute(
            f"INSERT INTO {TABLE} ({_NAMES}) {_newest(f'id > {mark} AND id <= {mark}')}"
            f" ON CONFLICT ({dialect.text_key('url')}) DO UPDATE SET {newer}"
            f" WHERE (excluded.timestamp, excluded.id) > ({TABLE}.timestamp, {TABLE}.id)",
            (lo, hi) * 2,
        )

    def rebuild(self, tx: Transaction, upto: int, now: float) -> None:
        tx.execute(f"DELETE FROM {TABLE}")
        tx.execute(
            f"INSERT INTO {TABLE} ({_NAMES}) {_newest(f'id <= {tx.dialect.placeholder}')}",
            (upto,) * 2,
        )


def latest_rows(reader: Reader, rolled_up_to: int) -> list[Row]:
    """The newest row of each URL: the table, and the raw rows above `rolled_up_to`."""
    mark = reader.dialect.placeholder
    rows = reader.query(
        f"SELECT {_NAMES} FROM {TABLE} UNION ALL {_newest(f'id > {mark}')}", (rolled_up_to,) * 2
    )
    newest: dict[str, Row] = {}
    for row in rows:
        known = newest.get(str(row["url"]))
        if known is None or _order(row) > _order(known):
            newest[str(row["url"])] = row
    return [newest[url] for url in sorted(newest)]


def _order(row: Row) -> tuple[datetime, int]:
    return (as_utc(row["timestamp"]), int(row["id"]))
