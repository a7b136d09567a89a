"""One evaluation pass of `wm alert`: new checks, latency and SLO burn rates against the rules.

The checks stored since the last pass are walked in timestamp order per URL
(`checks.Walk`); the incidents they open or resolve, their notifications (the
outbox) and the evaluator's position move together in one transaction, under
a lock every `wm alert` on the store takes, so two evaluators never open two
incidents for one outage nor record one transition twice. The position is
the highest probe id read (`checked_to`, `seen_to`): PostgreSQL hands out ids
before commit, so a pass reads only up to the ids no running transaction can
still fill in (`rollups.maintain.settled`).

`--lateness` holds back checks stamped within that long before now, so that a
slower host's older check still takes its place in the order; a check that
arrives even later is counted as late (`alert_positions.late`) and logged.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any

from website_monitor import log
from website_monitor.alerts import incidents as store
from website_monitor.alerts import slo as slos
from website_monitor.alerts.checks import Check, Opened, Position, Resolved, Walk
from website_monitor.alerts.incidents import Incident, open_key
from website_monitor.alerts.rules import Alerting, AlertRule, Slo
from website_monitor.probes import rollups
from website_monitor.rollups import maintain
from website_monitor.store import Reader, Repository, Transaction, Where
from website_monitor.times import as_utc

logger = log.get("alert")

#: Serialises evaluation passes of every `wm alert` on the store.
EVALUATE_LOCK = 0x776D_616C  # "wmal"
#: New checks read per pass; a backlog takes several passes, each its own transaction.
CHUNK = 50_000
#: How far back the first pass on a store looks (older checks opened nothing).
LOOKBACK = timedelta(hours=1)
#: A check stamped further ahead of the store's clock is not evaluated (as `wm tail` refuses
#: a line from the future): its host's clock is wrong, and walking it would make every
#: check of its URL from the other hosts late.
FUTURE = timedelta(minutes=5)
_CHECKS = (
    "SELECT id, url, timestamp, ok, http_status_code, error, error_detail, content_match,"
    " location FROM url_probes"
)
#: The kinds `wm alert` owns (traffic incidents are `wm tail`'s).
KINDS = ("down", "latency", "slo_burn")


@dataclasses.dataclass
class PassReport:
    """What one pass did."""

    checks: int = 0
    late: int = 0
    #: Checks stamped more than FUTURE ahead of the store's clock, not evaluated.
    future: int = 0
    opened: int = 0
    resolved: int = 0
    reminded: int = 0
    announced: int = 0
    #: A backlog remains: run another pass at once.
    more: bool = False


@dataclasses.dataclass
class _Latency:
    rule: AlertRule
    url: str
    value: float


@dataclasses.dataclass
class _Burn:
    slo: Slo
    urls: list[str]
    rates: dict[str, Any]


def now_of(reader: Reader) -> datetime:
    """The store's clock: every `wm alert` of a deployment decides by the same one."""
    return datetime.fromtimestamp(maintain.clock(reader), timezone.utc)


def evaluate(repository: Repository, alerting: Alerting, *, lateness: float = 0.0) -> PassReport:
    """Run one pass; repeat while `report.more`."""
    now = now_of(repository)
    latencies, burns = _measure(repository, alerting, now)
    settled = maintain.settled(repository, rollups.frontier(repository), wait=5.0)
    report = PassReport()
    with repository.transaction() as tx:
        tx.lock(EVALUATE_LOCK)
        state = _state(tx, now)
        upto = state["seen_to"] if settled is None else max(settled, state["seen_to"])
        mark = tx.dialect.placeholder
        rows = tx.query(
            f"{_CHECKS} WHERE id > {mark} AND id <= {mark} ORDER BY id",
            (state["checked_to"], state["seen_to"]),
        )
        new = tx.query(
            f"{_CHECKS} WHERE id > {mark} AND id <= {mark} ORDER BY id LIMIT {CHUNK}",
            (state["seen_to"], upto),
        )
        if len(new) == CHUNK:
            upto, report.more = int(new[-1]["id"]), True
        cutoff = now - timedelta(seconds=lateness)
        todo: list[Check] = []
        deferred: list[int] = []
        for row in rows + new:
            check = Check.from_row(row)
            if check.id <= state["seen_to"] and check.timestamp <= state["cutoff"]:
                continue  # walked by an earlier pass
            if check.timestamp > now + FUTURE:
                report.future += 1  # its host's clock is wrong: it would make all others late
            elif check.timestamp > cutoff:
                deferred.append(check.id)  # a slower host may still store an older check
            else:
                todo.append(check)
        context = _Pass(tx, alerting, now, report)
        context.walk(todo)
        if not report.more:
            context.measured(latencies, burns)
            context.follow_up()
        tx.execute(
            f"UPDATE alert_state SET checked_to = {mark}, seen_to = {mark}, cutoff = {mark},"
            f" evaluated_at = {mark}",
            (min(deferred) - 1 if deferred else upto, upto, cutoff, now),
        )
    if report.late:
        logger.warning(
            "%d checks arrived after newer checks of their URL were evaluated and were"
            " counted as late (give wm alert a --lateness as long as checks take to reach"
            " the store)",
            report.late,
        )
    if report.future:
        logger.warning(
            "%d checks are stamped more than %d minutes ahead of the store's clock and were"
            " not evaluated (the clock of the host that probed them is wrong)",
            report.future,
            FUTURE.total_seconds() // 60,
        )
    return report


def _state(tx: Transaction, now: datetime) -> dict[str, Any]:
    rows = tx.query("SELECT checked_to, seen_to, cutoff FROM alert_state")
    if rows:
        row = rows[0]
        return {
            "checked_to": int(row["checked_to"]),
            "seen_to": int(row["seen_to"]),
            "cutoff": as_utc(row["cutoff"]),
        }
    floor = now - LOOKBACK
    first = tx.scalar(
        f"SELECT min(id) FROM url_probes WHERE timestamp >= {tx.dialect.placeholder}", (floor,)
    )
    newest = tx.scalar("SELECT coalesce(max(id), 0) FROM url_probes")
    start = int(first) - 1 if first is not None else int(newest)
    tx.execute(
        "INSERT INTO alert_state (singleton, checked_to, seen_to, cutoff, evaluated_at)"
        f" VALUES (1, {tx.dialect.marks(4)})",
        (start, start, floor, now),
    )
    return {"checked_to": start, "seen_to": start, "cutoff": floor}


def _measure(
    repository: Repository, alerting: Alerting, now: datetime
) -> tuple[list[_Latency], list[_Burn]]:
    """Latency percentiles and SLO burn rates at `now`, read in one snapshot."""
    latencies: list[_Latency] = []
    burns: list[_Burn] = []
    rules = [rule for rule in alerting.alerts if rule.latency is not None]
    if not rules and not alerting.slos:
        return latencies, burns
    with repository.snapshot() as reader:
        walked: dict[str, set[str]] = defaultdict(set)
        for row in reader.query("SELECT DISTINCT rule, url FROM alert_positions"):
            walked[str(row["rule"])].add(str(row["url"]))
        for rule in rules:
            assert rule.latency is not None
            urls = sorted(set(rule.targets.urls) | walked[rule.name])
            if not urls:
                continue
            fraction = rule.latency.percentile / 100
            where = (
                Where(reader.dialect, "response_time_ms IS NOT NULL")
                .any_of("url", urls, keyed=True)
                .compare("timestamp", ">", now - timedelta(seconds=rule.latency.window))
                .compare("timestamp", "<=", now)
            )
            found = reader.query(
                f"SELECT url, {reader.dialect.percentile(fraction, 'response_time_ms')} AS p"
                f" FROM url_probes{where.sql} GROUP BY url ORDER BY url",
                where.params,
            )
            latencies.extend(_Latency(rule, str(r["url"]), float(r["p"])) for r in found)
        for slo in alerting.slos:
            urls = slos.urls_of(reader, slo)
            burns.append(_Burn(slo, urls, slos.burn_rates(reader, slo, urls, now)))
    return latencies, burns


class _Pass:
    """The changes of one pass, inside its transaction."""

    def __init__(self, tx: Transaction, alerting: Alerting, now: datetime, report: PassReport):
        self.tx = tx
        self.alerting = alerting
        self.now = now
        self.report = report
        self.open = store.load_open(tx, KINDS)
        self.changed: dict[str, Incident] = {}
        mark = tx.dialect.placeholder
        self.silences = [
            (str(r["url"]), as_utc(r["starts_at"]), as_utc(r["ends_at"]))
            for r in tx.query(
                f"SELECT url, starts_at, ends_at FROM silences WHERE ends_at > {mark}",
                (now - timedelta(days=1),),
            )
        ]

    def suppressed(self, urls: list[str | None], at: datetime) -> str | None:
        """Why notifications about `urls` are held back now, if they are: a maintenance
        window at `at` (when it happened), or a silence now (when they would be sent)."""
        if any(self.alerting.in_maintenance(url, at) for url in urls):
            return "maintenance"
        now = self.now
        if any(url == s and start <= now < end for url in urls for s, start, end in self.silences):
            return "silenced"
        return None

    # --- checks ---------------------------------------------------------------------------

    def walk(self, checks: list[Check]) -> None:
        rules = [rule for rule in self.alerting.alerts if not rule.traffic]
        if not checks or not rules:
            self.report.checks += len(checks)
            return
        by_url: dict[str, list[Check]] = defaultdict(list)
        for check in checks:
            by_url[check.url].append(check)
        positions: dict[tuple[str, str], dict[str, Position]] = defaultdict(dict)
        for row in self.tx.query("SELECT * FROM alert_positions"):
            position = Position.from_row(row)
            positions[(position.rule, position.url)][position.location] = position
        touched: list[Position] = []
        for url, found in by_url.items():
            found.sort(key=lambda c: (c.timestamp, c.id))
            for rule in rules:
                if not rule.matches(url):
                    continue
                key = open_key("down", rule.name, url, rule.severity)
                walk = Walk(rule, positions[(rule.name, url)], incident_open=key in self.open)
                for check in found:
                    change = walk.feed(check)
                    if change is not None:
                        self._apply(rule, url, key, change)
                self.report.late += walk.late
                touched.extend(walk.positions.values())
        self.report.checks += len(checks)
        self._save_positions(touched)

    def _apply(self, rule: AlertRule, url: str, key: str, change: Any) -> None:
        if isinstance(change, Opened):
            incident = Incident.new(
                "down",
                rule.name,
                change.started_at,
                url=url,
                severity=rule.severity,
                failures=change.failures,
                last_error=change.last_error,
            )
            store.open_incident(
                self.tx,
                incident,
                at=change.at,
                now=self.now,
                targets=rule.notify,
                suppressed=self.suppressed([url], change.at),
            )
            self.open[key] = incident
            self.report.opened += 1
        elif isinstance(change, Resolved):
            incident = self.open.pop(key)
            self.changed.pop(incident.id, None)
            store.resolve(
                self.tx, incident, resolved_at=change.resolved_at, at=change.at, now=self.now
            )
            self.report.resolved += 1
        else:
            incident = self.open[key]
            incident.failures += 1
            incident.last_error = change.error
            self.changed[incident.id] = incident

    def _save_positions(self, positions: list[Position]) -> None:
        rows = [
            (
                p.key,
                p.rule,
                p.url,
                p.location,
                p.last_ts,
                p.last_id,
                p.run_ok,
                p.run_count,
                p.run_start,
                p.failing,
                p.failing_since,
                p.late,
                p.last_error,
            )
            for p in positions
            if p.last_ts is not None
        ]
        if rows:
            self.tx.executemany(
                "INSERT INTO alert_positions (key, rule, url, location, last_ts, last_id, run_ok,"
                " run_count, run_start, failing, failing_since, late, last_error)"
                f" VALUES ({self.tx.dialect.marks(13)}) ON CONFLICT (key)"
                " DO UPDATE SET last_ts = excluded.last_ts, last_id = excluded.last_id,"
                " run_ok = excluded.run_ok, run_count = excluded.run_count,"
                " run_start = excluded.run_start, failing = excluded.failing,"
                " failing_since = excluded.failing_since, late = excluded.late,"
                " last_error = excluded.last_error",
                rows,
            )

    # --- latency and SLO burn rates ---------------------------------------------------------

    def _condition(
        self,
        key: str,
        met: bool,
        make: Callable[[], Incident],
        value: float,
        detail: str,
        targets: tuple[str, ...],
        urls: list[str | None],
    ) -> None:
        """Open, update or resolve the incident `key` as a condition holds or not."""
        incident = self.open.get(key)
        if met and incident is None:
            incident = make()
            incident.peak, incident.last_error, incident.failures = value, detail, 1
            store.open_incident(
                self.tx,
                incident,
                at=self.now,
                now=self.now,
                targets=targets,
                suppressed=self.suppressed(urls, self.now),
            )
            self.open[key] = incident
            self.report.opened += 1
        elif met and incident is not None:
            incident.peak = max(incident.peak or value, value)
            incident.last_error, incident.failures = detail, incident.failures + 1
            self.changed[incident.id] = incident
        elif incident is not None:
            del self.open[key]
            self.changed.pop(incident.id, None)
            store.resolve(self.tx, incident, resolved_at=self.now, at=self.now, now=self.now)
            self.report.resolved += 1

    def measured(self, latencies: list[_Latency], burns: list[_Burn]) -> None:
        for found in latencies:
            rule, latency = found.rule, found.rule.latency
            assert latency is not None
            name = f"p{latency.percentile:g}"
            self._condition(
                open_key("latency", rule.name, found.url, rule.severity),
                found.value > latency.threshold_ms,
                partial(
                    Incident.new,
                    "latency",
                    rule.name,
                    self.now,
                    url=found.url,
                    severity=rule.severity,
                    threshold=latency.threshold_ms,
                ),
                found.value,
                f"{name} {found.value:.1f} ms over {latency.text.rsplit(' ', 1)[-1]}"
                f" > {latency.threshold_ms:g} ms",
                rule.notify,
                [found.url],
            )
        for burn in burns:
            for severity in ("page", "notify"):
                met = [r for r in slos.POLICY if r.severity == severity and r.met(burn.rates)]
                value = max((float(burn.rates[r.long]) for r in met), default=0.0)
                factor = max((float(r.factor) for r in met), default=0.0)
                detail = "; ".join(
                    f"{r.text}: {r.long} {float(burn.rates[r.long]):.2f}x,"
                    f" {r.short} {float(burn.rates[r.short]):.2f}x"
                    for r in met
                )
                self._condition(
                    open_key("slo_burn", burn.slo.name, None, severity),
                    bool(met),
                    partial(
                        Incident.new,
                        "slo_burn",
                        burn.slo.name,
                        self.now,
                        severity=severity,
                        threshold=factor,
                    ),
                    value,
                    detail,
                    burn.slo.notify,
                    list(burn.urls),
                )

    # --- reminders, held-back announcements, incidents of rules gone ------------------------

    def follow_up(self) -> None:
        rules = {rule.name: rule for rule in self.alerting.alerts if not rule.traffic}
        objectives = {slo.name: slo for slo in self.alerting.slos}
        for key, incident in list(self.open.items()):
            rule = rules.get(incident.alert)
            objective = objectives.get(incident.alert) if incident.kind == "slo_burn" else None
            if incident.kind == "slo_burn":
                configured = objective is not None
            else:
                configured = rule is not None and (
                    incident.kind == "down" or rule.latency is not None
                )
            if not configured:
                incident.last_error = f"{incident.last_error or ''} (its rule is gone)".strip()
                del self.open[key]
                self.changed.pop(incident.id, None)
                store.resolve(self.tx, incident, resolved_at=self.now, at=self.now, now=self.now)
                self.report.resolved += 1
                continue
            urls: list[str | None] = [incident.url]
            targets: tuple[str, ...] = ()
            if objective is not None:
                urls, targets = [*objective.targets.urls], objective.notify
            elif rule is not None:
                targets = rule.notify
            if not targets or self.suppressed(urls, self.now):
                continue
            if not incident.announced:
                if store.announce(self.tx, incident, now=self.now):
                    self.report.announced += 1
                self.changed.pop(incident.id, None)
            elif rule is not None and rule.remind_every is not None:
                last = incident.notified_at or incident.started_at
                if (self.now - last).total_seconds() >= rule.remind_every:
                    store.remind(self.tx, incident, now=self.now)
                    self.changed.pop(incident.id, None)
                    self.report.reminded += 1
        for incident in self.changed.values():
            store.save(self.tx, incident)
