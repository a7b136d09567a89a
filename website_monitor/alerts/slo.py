"""Service level objectives: good and total checks over a window, the SLI, the budget, burn rates.

A check is good when it is `ok` (and, with `latency_ms`, answered faster than
that). Counts come from the probes' rollups for whole weeks and days and from
the raw rows for the partial days at the window's edges and for the rows not
rolled up yet, so a year-long window reads a few thousand rollup rows, not
millions of checks (the same covering as `wm stats`, `rollups.read`).
From the rollups a latency threshold is applied per histogram bucket: the
buckets below it count whole, the one holding it by the share of its (1 %
wide, log-scaled) range below the threshold; where a status had both ok and
failed checks in one period the fast share is taken to be the same for both.
From raw rows everything is exact.

The burn rate over a window is the share of bad checks divided by the error
budget (1 - objective); 1 spends the budget exactly over the SLO's window.
Alerts follow the SRE workbook's multi-window, multi-burn-rate policy (`POLICY`).
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta
from fractions import Fraction

from website_monitor.alerts.models import BurnRates, SloReport
from website_monitor.alerts.rules import Slo
from website_monitor.probes import rollups
from website_monitor.rollups import prune
from website_monitor.rollups.sketch import DAY, INV_LOG_GAMMA, WEEK, bucket_index, plan
from website_monitor.store import Reader, Where

#: The windows burn rates are computed over (seconds).
WINDOWS = {"5m": 300, "30m": 1800, "1h": 3600, "6h": 21600, "1d": 86400, "3d": 259200}
#: Those `wm slo` prints.
SHOWN = ("1h", "6h", "1d", "3d")


@dataclasses.dataclass(frozen=True)
class BurnRule:
    """Alert at `severity` when both windows burn at `factor` times the budget rate or more."""

    severity: str
    factor: Fraction
    long: str
    short: str

    def met(self, burns: dict[str, Fraction | None]) -> bool:
        return all(
            (burn := burns.get(window)) is not None and burn >= self.factor
            for window in (self.long, self.short)
        )

    @property
    def text(self) -> str:
        return f"{self.severity}: {float(self.factor):g}x over {self.long} and {self.short}"


#: The SRE workbook's policy: page at 14.4x over 1 h and 5 m, page at 6x over 6 h and
#: 30 m, notify at 1x over 3 d and 6 h.
POLICY = (
    BurnRule("page", Fraction("14.4"), "1h", "5m"),
    BurnRule("page", Fraction(6), "6h", "30m"),
    BurnRule("notify", Fraction(1), "3d", "6h"),
)


@dataclasses.dataclass(frozen=True)
class Counts:
    good: int
    total: int

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.good + other.good, self.total + other.total)


def budget(objective: float) -> Fraction:
    """The share of checks allowed to be bad: 0.001 for 99.9."""
    return 1 - Fraction(str(objective)) / 100


def burn_rate(counts: Counts, objective: float) -> Fraction | None:
    """How fast the window spends the budget (None without checks)."""
    if not counts.total:
        return None
    return Fraction(counts.total - counts.good, counts.total) / budget(objective)


def urls_of(reader: Reader, slo: Slo) -> list[str]:
    """The URLs the SLO covers: those listed, and those stored that match its pattern."""
    urls = set(slo.targets.urls)
    if slo.targets.url_pattern is not None:
        mark = reader.dialect.placeholder
        rows = reader.query(
            "SELECT url FROM rollup_summary GROUP BY url UNION"
            f" SELECT url FROM url_probes WHERE id > {mark} GROUP BY url",
            (rollups.rolled_up_to(reader),),
        )
        urls.update(str(row["url"]) for row in rows if slo.targets.matches(str(row["url"])))
    return sorted(urls)


def counts(
    reader: Reader,
    urls: list[str],
    since: datetime,
    until: datetime,
    latency_ms: float | None = None,
) -> Counts:
    """Good and total checks of `urls` stamped in [since, until); read in one snapshot."""
    if not urls:
        return Counts(0, 0)
    kept = prune.raw_from(reader, rollups.ROLLUP)
    if kept and since.timestamp() < kept:  # pruned: the rollups answer, from a whole day
        since = _at(since.timestamp() // DAY * DAY, since)
    weeks = reader.query(f"SELECT weeks_to AS n FROM {rollups.STATE_TABLE}")
    weeks_to = int(weeks[0]["n"]) if weeks else 0
    segments = plan(since.timestamp(), until.timestamp(), [WEEK, DAY], coarsest_until=weeks_to)
    found = Counts(0, 0)
    whole = [(start, end, width) for start, end, width in segments if width is not None]
    for start, end, width in segments:
        if width is None:
            assert start is not None and end is not None
            found += _raw(reader, urls, _at(start, since), _at(end, until), latency_ms)
        else:
            assert start is not None and end is not None
            found += _rolled_up(reader, urls, int(start), int(end), width, latency_ms)
    if whole:  # their probes not rolled up yet come from the raw rows
        first, last = whole[0][0], whole[-1][1]
        assert first is not None and last is not None
        found += _raw(
            reader,
            urls,
            _at(first, since),
            _at(last, until),
            latency_ms,
            after_id=rollups.rolled_up_to(reader),
        )
    return found


def _at(epoch: float, original: datetime) -> datetime:
    if epoch == original.timestamp():
        return original
    return original + timedelta(seconds=epoch - original.timestamp())


def _raw(
    reader: Reader,
    urls: list[str],
    since: datetime,
    until: datetime,
    latency_ms: float | None,
    *,
    after_id: int | None = None,
) -> Counts:
    mark = reader.dialect.placeholder
    where = (
        Where(reader.dialect)
        .any_of("url", urls, keyed=True)
        .compare("timestamp", ">=", since)
        .compare("timestamp", "<", until)
        .compare("id", ">", after_id)
    )
    if latency_ms is None:
        good, params = "ok", where.params
    else:
        good, params = f"ok AND response_time_ms < {mark}", [latency_ms, *where.params]
    row = reader.query(
        f"SELECT count(*) AS total, sum(CASE WHEN {good} THEN 1 ELSE 0 END) AS good"
        f" FROM url_probes{where.sql}",
        params,
    )[0]
    return Counts(int(row["good"] or 0), int(row["total"] or 0))


def _rolled_up(
    reader: Reader, urls: list[str], start: int, end: int, width: int, latency_ms: float | None
) -> Counts:
    where = (
        Where(reader.dialect, f"s.width = {int(width)}")
        .compare("s.period_start", ">=", start)
        .compare("s.period_start", "<", end)
        .any_of("s.url", urls, keyed=True)
    )
    if latency_ms is None:
        row = reader.query(
            f"SELECT sum(s.probes) AS total, sum(s.ok) AS good FROM rollup_summary s{where.sql}",
            where.params,
        )[0]
        return Counts(int(row["good"] or 0), int(row["total"] or 0))
    # Buckets below the threshold's are fast; of the threshold's own bucket, the share
    # below it (values taken as spread evenly in log space, as the buckets are).
    edge = bucket_index(latency_ms)
    share = math.log(latency_ms) * INV_LOG_GAMMA - (edge - 1) if latency_ms > 0 else 0.0
    latency = (
        Where(reader.dialect, f"width = {int(width)}", f"bucket <= {int(edge)}")
        .compare("period_start", ">=", start)
        .compare("period_start", "<", end)
        .any_of("url", urls, keyed=True)
    )
    rows = reader.query(
        "SELECT s.probes, s.ok, coalesce(f.below, 0) AS below, coalesce(f.edge, 0) AS edge"
        f" FROM rollup_summary s LEFT JOIN (SELECT period_start, url, status,"
        f" sum(CASE WHEN bucket < {int(edge)} THEN count ELSE 0 END) AS below,"
        f" sum(CASE WHEN bucket = {int(edge)} THEN count ELSE 0 END) AS edge"
        f" FROM rollup_latency{latency.sql} GROUP BY period_start, url, status) AS f"
        " ON f.period_start = s.period_start AND f.url = s.url AND f.status = s.status"
        f"{where.sql}",
        [*latency.params, *where.params],
    )
    good = 0.0
    total = 0
    for row in rows:
        probes, ok = int(row["probes"]), int(row["ok"])
        fast = int(row["below"]) + share * int(row["edge"])
        total += probes
        if ok == probes:
            good += fast
        elif ok:
            good += fast * ok / probes
    return Counts(round(good), total)


def burn_rates(
    reader: Reader, slo: Slo, urls: list[str], now: datetime
) -> dict[str, Fraction | None]:
    """The burn rate over each of `WINDOWS`, ending at `now`."""
    return {
        name: burn_rate(
            counts(reader, urls, now - timedelta(seconds=seconds), now, slo.latency_ms),
            slo.objective,
        )
        for name, seconds in WINDOWS.items()
    }


def _round(value: Fraction | float | None) -> float | None:
    return None if value is None else round(float(value), 6)


@dataclasses.dataclass(frozen=True)
class Measured:
    """An SLO at one moment: what `wm slo` prints, and the burn rate over every window."""

    report: SloReport
    rates: dict[str, float | None]


def measure(reader: Reader, slo: Slo, now: datetime) -> Measured:
    urls = urls_of(reader, slo)
    window = counts(reader, urls, now - timedelta(seconds=slo.window), now, slo.latency_ms)
    burns = burn_rates(reader, slo, urls, now)
    sli = Fraction(window.good, window.total) if window.total else None
    burned = burn_rate(window, slo.objective)
    rates = {name: _round(value) for name, value in burns.items()}
    report = SloReport(
        name=slo.name,
        objective=slo.objective,
        window=slo.window_text,
        good=window.good,
        total=window.total,
        sli=_round(sli),
        error_budget_remaining=None if burned is None else _round(1 - burned),
        burn_rates=BurnRates(**{f"w{name}": rates[name] for name in SHOWN}),
        urls=urls,
    )
    return Measured(report, rates)


def report(reader: Reader, slo: Slo, now: datetime) -> SloReport:
    """What `wm slo` prints for one SLO, at `now`."""
    return measure(reader, slo, now).report
