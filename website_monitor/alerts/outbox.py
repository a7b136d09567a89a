"""Delivering the outbox: each notification until its receiver accepts it, once.

A sender claims the notifications due for the notifiers it has (under a lock,
so two senders never claim one), sends them outside any transaction, then
records the outcome. A claim is a lease: if the sender dies before recording
the outcome, the notification is sent again (with the same dedup key) once the
lease runs out, or at once by a sender on the same host that sees the claiming
process is gone. A failure is logged with its reason and retried with backoff
(1 s doubling to 5 min) until `max_attempts`, then marked `failed` (visible in
`wm incidents` and `wm_notifications_failed_total`).

Each notifier gets its notifications in the order they were stored: a
resolution never overtakes its opening, and a notification waits while an
older one to the same notifier is still being retried.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from website_monitor import log
from website_monitor.alerts.notifiers import Notification, Notifier, NotifyError
from website_monitor.errors import WebsiteMonitorError
from website_monitor.rollups import maintain
from website_monitor.store import Repository
from website_monitor.store.url import mask
from website_monitor.times import as_utc

logger = log.get("alert")

#: Serialises claims of every sender on the store.
OUTBOX_LOCK = 0x776D_6F62  # "wmob"
MAX_ATTEMPTS = 10
FIRST_RETRY = 1.0
LONGEST_RETRY = 300.0
#: Notifications claimed at once.
BATCH = 50


def backoff(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed attempt."""
    return float(min(LONGEST_RETRY, FIRST_RETRY * 2 ** max(0, attempts - 1)))


def sender_id() -> str:
    """`host:pid:nonce`: who holds a claim, and whether it can still be alive."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _gone(claimer: str) -> bool:
    """Whether `claimer` was a process of this host that has ended."""
    host, _, rest = claimer.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


@dataclasses.dataclass
class Delivered:
    """What one round of deliveries did."""

    sent: int = 0
    failed: int = 0
    given_up: int = 0

    @property
    def attempted(self) -> int:
        return self.sent + self.failed


class Outbox:
    """Sends the notifications of the notifiers it has, from one store."""

    def __init__(
        self,
        repository: Repository,
        notifiers: Mapping[str, Notifier],
        *,
        max_attempts: int = MAX_ATTEMPTS,
        owner: str | None = None,
    ) -> None:
        self.repository = repository
        self.notifiers = dict(notifiers)
        self.max_attempts = max_attempts
        self.owner = owner or sender_id()
        longest = max((n.timeout for n in self.notifiers.values()), default=10.0)
        #: A claim outlives the slowest send several times over.
        self.lease = timedelta(seconds=max(60.0, 3 * longest + 30))

    def secrets(self) -> list[str]:
        """Every notifier's secrets (read now: some come from the environment), and the
        settings' (a command inherits the environment, where they may be)."""
        found = [secret for n in self.notifiers.values() for secret in n.secrets() if secret]
        return [*found, *log.masked_secrets()]

    def _now(self) -> datetime:
        return datetime.fromtimestamp(maintain.clock(self.repository), timezone.utc)

    def claim(self, limit: int = BATCH) -> list[dict[str, Any]]:
        """Claim the notifications that are due: the oldest undelivered of each notifier."""
        if not self.notifiers:
            return []
        names = sorted(self.notifiers)
        with self.repository.transaction() as tx:
            tx.lock(OUTBOX_LOCK)
            now = datetime.fromtimestamp(maintain.clock(tx), timezone.utc)
            # The store's clock counts whole seconds: what falls due within this one is due.
            due = now + timedelta(seconds=1)
            mark = tx.dialect.placeholder
            rows = tx.query(
                "SELECT id, incident_id, transition, notifier, dedup_key, payload, attempts,"
                " next_attempt_at, claimed_by, claimed_until FROM notifications"
                f" WHERE state = 'pending' AND notifier IN ({', '.join(mark for _ in names)})"
                " ORDER BY id",
                names,
            )
            chosen: list[dict[str, Any]] = []
            waiting: set[str] = set()
            for row in rows:
                if row["notifier"] in waiting:
                    continue
                waiting.add(row["notifier"])  # its later notifications wait for this one
                if as_utc(row["next_attempt_at"]) >= due:
                    continue
                claimer, until = row["claimed_by"], row["claimed_until"]
                if claimer and as_utc(until) > now and claimer != self.owner and not _gone(claimer):
                    continue
                chosen.append(row)
                if len(chosen) >= limit:
                    break
            if chosen:
                tx.executemany(
                    f"UPDATE notifications SET claimed_by = {mark}, claimed_until = {mark}"
                    f" WHERE id = {mark}",
                    [(self.owner, now + self.lease, row["id"]) for row in chosen],
                )
        return chosen

    def deliver(self, limit: int = BATCH) -> Delivered:
        """Claim what is due and send it; one round."""
        done = Delivered()
        for row in self.claim(limit):
            notification = Notification(
                row["dedup_key"], row["transition"], json.loads(row["payload"])
            )
            notifier = self.notifiers[row["notifier"]]
            try:
                notifier.send(notification)
            except Exception as exc:  # a receiver's failure, or a notifier's bug: never fatal
                if isinstance(exc, NotifyError):
                    reason = exc.reason
                elif isinstance(exc, WebsiteMonitorError):
                    reason = exc.message
                else:
                    logger.error("notifier %s failed unexpectedly", notifier.name, exc_info=exc)
                    reason = f"{type(exc).__name__} in the {notifier.type} notifier"
                # A receiver's answer may say back what it was sent (`Cannot POST /path?token=`,
                # the routing key in the body), a command its environment: stored and shown
                # by `wm incidents`, so masked.
                reason = mask(reason, self.secrets())
                if self._failed(row, reason):
                    done.given_up += 1
                done.failed += 1
            else:
                self._sent(row)
                done.sent += 1
        return done

    def drain(self) -> Delivered:
        """Deliver until nothing is due now (retries that wait stay for later)."""
        total = Delivered()
        while True:
            done = self.deliver()
            total.sent += done.sent
            total.failed += done.failed
            total.given_up += done.given_up
            if not done.attempted:
                return total

    def _sent(self, row: dict[str, Any]) -> None:
        mark = self.repository.placeholder
        self.repository.execute(
            f"UPDATE notifications SET state = 'sent', sent_at = {mark}, attempts = attempts + 1,"
            " last_error = NULL, claimed_by = NULL, claimed_until = NULL"
            f" WHERE id = {mark} AND claimed_by = {mark}",
            (self._now(), row["id"], self.owner),
        )
        logger.info("sent %s to %s", row["dedup_key"], row["notifier"])

    def _failed(self, row: dict[str, Any], reason: str) -> bool:
        """Record a failed attempt; whether it was the last one."""
        attempts = int(row["attempts"]) + 1
        last = attempts >= self.max_attempts
        wait = backoff(attempts)
        mark = self.repository.placeholder
        self.repository.execute(
            f"UPDATE notifications SET state = {mark}, attempts = {mark}, last_error = {mark},"
            f" next_attempt_at = {mark}, claimed_by = NULL, claimed_until = NULL"
            f" WHERE id = {mark} AND claimed_by = {mark}",
            (
                "failed" if last else "pending",
                attempts,
                reason[:500],
                self._now() + timedelta(seconds=wait),
                row["id"],
                self.owner,
            ),
        )
        if last:
            logger.error(
                "notification %s to %s failed %d times, giving up: %s",
                row["dedup_key"],
                row["notifier"],
                attempts,
                reason,
            )
        else:
            logger.warning(
                "notification %s to %s failed (attempt %d of %d, next in %gs): %s",
                row["dedup_key"],
                row["notifier"],
                attempts,
                self.max_attempts,
                wait,
                reason,
            )
        return last
