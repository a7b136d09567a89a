"""`wm alert` as a loop: evaluate every `every` seconds, deliver the outbox in between.

Evaluation passes run back to back while a backlog remains. Deliveries are
tried every second, so a retry waits as long as its backoff says, not a whole
evaluation period. While the store is unreachable the loop retries with
backoff (0.5 s doubling to 30 s) and loses nothing: the position and the
outbox are in the store.
"""

from __future__ import annotations

import dataclasses
import threading
import time

from website_monitor import log
from website_monitor.alerts.evaluate import PassReport, evaluate
from website_monitor.alerts.outbox import Delivered, Outbox
from website_monitor.alerts.rules import Alerting
from website_monitor.errors import StoreUnavailable
from website_monitor.store import Repository

logger = log.get("alert")

#: How often the outbox is looked at between evaluations.
DELIVERY_TICK = 1.0


@dataclasses.dataclass
class Totals:
    passes: int = 0
    checks: int = 0
    opened: int = 0
    resolved: int = 0
    sent: int = 0
    failed: int = 0


def evaluate_all(repository: Repository, alerting: Alerting, lateness: float) -> PassReport:
    """Passes until no backlog remains; their sum."""
    total = PassReport()
    while True:
        report = evaluate(repository, alerting, lateness=lateness)
        for field in ("checks", "late", "future", "opened", "resolved", "reminded", "announced"):
            setattr(total, field, getattr(total, field) + getattr(report, field))
        if not report.more:
            return total


def run(
    repository: Repository,
    alerting: Alerting,
    *,
    every: float = 10.0,
    once: bool = False,
    lateness: float = 0.0,
    max_attempts: int = 10,
    stop: threading.Event | None = None,
) -> Totals:
    """Evaluate and deliver until `stop` is set (or once, with `once`)."""
    stop = stop or threading.Event()
    outbox = Outbox(repository, alerting.notifiers, max_attempts=max_attempts)
    totals = Totals()
    next_pass = time.monotonic()
    delay = 0.5
    while not stop.is_set():
        try:
            if time.monotonic() >= next_pass:
                next_pass = time.monotonic() + every
                report = evaluate_all(repository, alerting, lateness)
                totals.passes += 1
                totals.checks += report.checks
                totals.opened += report.opened
                totals.resolved += report.resolved
                if report.opened or report.resolved or report.reminded or report.announced:
                    logger.info(
                        "%d checks: %d incidents opened, %d resolved, %d reminders,"
                        " %d announced after a silence or maintenance",
                        report.checks,
                        report.opened,
                        report.resolved,
                        report.reminded,
                        report.announced,
                    )
            delivered: Delivered = outbox.drain()
            totals.sent += delivered.sent
            totals.failed += delivered.failed
            delay = 0.5
        except StoreUnavailable as exc:
            if once:
                raise
            logger.warning("store unavailable, retrying in %.1fs: %s", delay, exc.message)
            stop.wait(delay)
            delay = min(delay * 2, 30.0)
            continue
        if once:
            break
        stop.wait(max(0.0, min(DELIVERY_TICK, next_pass - time.monotonic())))
    return totals
