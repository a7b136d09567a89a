"""The probes' rollups: per URL and HTTP status, response times (see `website_monitor.rollups`).

`status` is the HTTP status, 0 (`NO_STATUS`) for a check that got no response.
"""

from __future__ import annotations

from typing import Any

from website_monitor.probes.counters import Counters
from website_monitor.probes.latest import Latest
from website_monitor.probes.series import Series
from website_monitor.rollups import maintain
from website_monitor.rollups.maintain import Maintained
from website_monitor.rollups.spec import Key, Rollup
from website_monitor.store import Reader, Repository

#: `status` stored for a check without an HTTP status (the request failed).
NO_STATUS = 0
#: Its state table, as tests and tools name it.
STATE_TABLE = "rollup_state"

ROLLUP = Rollup(
    raw="url_probes",
    state=STATE_TABLE,
    summary="rollup_summary",
    histogram="rollup_latency",
    keys=(
        Key("url", "url", long=True),
        Key("status", f"coalesce(http_status_code, {NO_STATUS})"),
    ),
    value="response_time_ms",
    counts=(
        ("probes", "1"),
        ("errors", "CASE WHEN error IS NOT NULL THEN 1 ELSE 0 END"),
        ("ok", "CASE WHEN ok THEN 1 ELSE 0 END"),
        ("timed", "CASE WHEN response_time_ms IS NULL THEN 0 ELSE 1 END"),
    ),
    total="sum_ms",
    minimum="min_ms",
    maximum="max_ms",
    lock=0x776D_726C,  # "wmrl"
    extras=(Latest(), Series(), Counters()),
)

DERIVED = Maintained(ROLLUP)
Frontier = maintain.Frontier


def catch_up(repository: Repository, **options: Any) -> int:
    """`rollups.maintain.catch_up` of the probes' rollups."""
    return maintain.catch_up(repository, ROLLUP, **options)


def frontier(repository: Repository) -> maintain.Frontier:
    return maintain.frontier(repository, ROLLUP)


def rebuild(repository: Repository, *, now: float | None = None) -> dict[str, int]:
    return maintain.rebuild(repository, ROLLUP, now=now)


def rolled_up_to(reader: Reader) -> int:
    return maintain.rolled_up_to(reader, ROLLUP)


def pending(reader: Reader) -> int:
    return maintain.pending(reader, ROLLUP)
