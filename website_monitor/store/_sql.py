"""Pieces of SQL machinery shared by the queries of every kind of data."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from website_monitor.store.dialect import Dialect


def percentile_cont(values: Sequence[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = math.floor(position)
    upper = math.ceil(position)
    if lower == upper:
        return float(ordered[lower])
    weight = position - lower
    return float(ordered[lower] + (ordered[upper] - ordered[lower]) * weight)


class Where:
    """A parameterized WHERE clause built from optional filters.

    A filter whose value is None (or an empty list) is left out, so callers
    pass their optional arguments straight through:

        where = Where(reader.dialect).any_of("url", urls).compare("timestamp", ">=", since)
        reader.query("SELECT … FROM url_probes" + where.sql, where.params)
    """

    def __init__(self, dialect: Dialect, *fixed: str) -> None:
        self.dialect = dialect
        self.mark = dialect.placeholder
        self.conditions: list[str] = list(fixed)
        self.params: list[Any] = []

    def any_of(self, column: str, values: Sequence[Any], *, keyed: bool = False) -> Where:
        """`column` is one of `values`. `keyed`: the column is long text whose indexes are on
        `dialect.text_key(column)`; the condition on the key lets them be used."""
        if values:
            marks = ", ".join(self.mark for _ in values)
            if keyed and self.dialect.text_key(column) != column:
                key = self.dialect.text_key(self.mark)
                keys = ", ".join(key for _ in values)
                self.conditions.append(f"{self.dialect.text_key(column)} IN ({keys})")
                self.params.extend(values)
            self.conditions.append(f"{column} IN ({marks})")
            self.params.extend(values)
        return self

    def compare(self, column: str, operator: str, value: Any) -> Where:
        if operator not in ("=", "<", "<=", ">", ">="):
            raise ValueError(f"unsupported operator {operator!r}")
        if value is not None:
            self.conditions.append(f"{column} {operator} {self.mark}")
            self.params.append(value)
        return self

    def also(self, condition: str, *params: Any) -> Where:
        """Any further condition, with its parameters."""
        self.conditions.append(condition)
        self.params.extend(params)
        return self

    @property
    def sql(self) -> str:
        """` WHERE …`, or nothing when no filter applies."""
        return f" WHERE {' AND '.join(self.conditions)}" if self.conditions else ""

    @property
    def condition(self) -> str:
        """The conditions joined by AND, or `true` when there is none."""
        return " AND ".join(self.conditions) or "true"
