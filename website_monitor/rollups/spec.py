"""What a kind of data's rollups are: which raw rows, grouped by what, summarising what.

A kind declares one `Rollup`; the engine (`rollups.maintain`, `rollups.read`)
writes and reads every kind's rollups with the same SQL, generated from it:

* `summary (width, period_start, <keys>)`: the `counts` (each a per-row
  expression, summed), and the sum, minimum and maximum of `value`;
* `histogram (width, period_start, <keys>, bucket)`: how many values fell into
  each bucket of the sketch (`rollups.sketch`);
* `state`: how far they go (`rolled_up_to`, an id of the raw table) and which
  weeks are folded (`weeks_to`).

`extras` are further tables a kind keeps current in the same transactions
(the probes' latest result per URL, exact series points, Prometheus counters).
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

from website_monitor.store.base import Transaction
from website_monitor.store.dialect import Dialect


@dataclasses.dataclass(frozen=True)
class Key:
    """A column the rollups are grouped by."""

    #: Its name in the rollup tables.
    name: str
    #: The expression over a raw row that gives it.
    raw: str
    #: Long text: unique keys and lookups use `dialect.text_key` of it.
    long: bool = False


class Extra(Protocol):
    """A table kept current from the raw rows, in the catch-up's own transactions."""

    def add(self, tx: Transaction, lo: int, hi: int, now: float) -> None:
        """Take in the raw rows with `lo < id <= hi` (`now`: the database's clock)."""
        ...

    def rebuild(self, tx: Transaction, upto: int, now: float) -> None:
        """Recompute from every raw row with `id <= upto`."""
        ...


@dataclasses.dataclass(frozen=True)
class Rollup:
    """One kind's rollups."""

    #: Raw table, with an increasing `id` and a `timestamp`.
    raw: str
    state: str
    summary: str
    histogram: str
    keys: tuple[Key, ...]
    #: The raw column the histogram, sum, minimum and maximum are of (NULL: not counted).
    value: str
    #: Summary columns: (name, per-row expression), summed per period.
    counts: tuple[tuple[str, str], ...]
    #: Names of the sum, minimum and maximum columns of the summary.
    total: str
    minimum: str
    maximum: str
    #: Serialises catch-ups and rebuilds of these rollups (where writers run concurrently).
    lock: int
    extras: tuple[Extra, ...] = ()

    def conflict(self, dialect: Dialect, *more: str) -> str:
        """The unique key of a rollup row, as an ON CONFLICT target."""
        keys = [dialect.text_key(k.name) if k.long else k.name for k in self.keys]
        return ", ".join(["width", "period_start", *keys, *more])

    @property
    def key_names(self) -> str:
        return ", ".join(k.name for k in self.keys)

    @property
    def count_names(self) -> str:
        return ", ".join(name for name, _ in self.counts)
