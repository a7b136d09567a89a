"""Keeping derived tables (rollups) current while `wm flush` writes, without slowing it.

Writers store raw rows only; a `Roller` catches a kind's derived tables up on
a thread and connection of its own: whenever `batch` rows are pending (so
during a backlog the rollups follow the writes instead of waiting for the end,
and use the CPU the writes leave idle), whenever the consumer is idle, and,
when draining, before the flush exits. A source writing to PostgreSQL without a
broker (`transport.direct`) uses rollers the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from website_monitor import features, log
from website_monitor.codec import count_by_type
from website_monitor.errors import StoreError
from website_monitor.feature import Derived
from website_monitor.store import Repository

logger = log.get("flush")


class Roller:
    """Catches a kind's derived tables up with its stored rows, on a thread and connection
    of its own.

    A catch-up runs whenever `batch` probes are pending (so during a backlog
    the rollups follow the writes instead of waiting for the end, and use the
    CPU the writes leave idle), and whenever the consumer is idle. A failed
    catch-up loses nothing: the rows are stored, reads add the ones not rolled
    up yet, and the next catch-up covers them.
    """

    def __init__(
        self, repository: Repository, derived: Derived, name: str = "", *, batch: int = 10_000
    ) -> None:
        self.batch = batch
        self.derived = derived
        self.name = name
        self._source = repository
        self._connection: Repository | None = None
        self._pending = 0
        #: Where the probes stored so far end, as the writer read it after its last commit.
        self._frontier: Any = None
        self._idle = False
        self._closing = False
        #: Set when closing without a final catch-up: a catch-up under way stops early.
        self._abandon = threading.Event()
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="wm-rollups", daemon=True)
        self._thread.start()

    def stored(self, rows: int, frontier: Any = None) -> None:
        """`rows` new rows are stored, up to `frontier` (read after their commit)."""
        if rows:
            with self._wake:
                self._pending += rows
                self._frontier = frontier
                if self._pending >= self.batch:
                    self._wake.notify()

    def idle(self) -> None:
        """Nothing is coming in: catch up with whatever is pending."""
        with self._wake:
            if self._pending and not self._idle:
                self._idle = True
                self._wake.notify()

    def close(self, *, catch_up: bool) -> None:
        """Stop; with `catch_up`, first bring the rollups up to date with every stored row."""
        with self._wake:
            self._idle = self._idle or (catch_up and self._pending > 0)
            self._closing = True
            if not catch_up:
                self._abandon.set()
            self._wake.notify()
        # A catch-up under way commits or, cut short by the exit, is rolled back: either is safe.
        self._thread.join(None if catch_up else 2.0)
        if not self._thread.is_alive() and self._connection is not None:
            self._connection.close()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not (self._closing or self._idle or self._pending >= self.batch):
                    self._wake.wait()
                if not (self._idle or self._pending >= self.batch):
                    return  # closing, with nothing asked for
                self._pending, self._idle = 0, False
                frontier, self._frontier = self._frontier, None
            self._catch_up(frontier)

    def _catch_up(self, frontier: Any) -> None:
        try:
            if self._connection is None:
                self._connection = self._source.reopen()
            covered = self.derived.catch_up(self._connection, stop=self._abandon, upto=frontier)
        except StoreError as exc:
            logger.warning(
                "%s rollups not brought up to date, the next catch-up covers the rows: %s",
                self.name,
                exc.message,
                extra={"event": "rollup_failed"},
            )
            return
        if covered:
            logger.debug("%s rollups caught up with %d ids", self.name, covered)


def tell_rollers(rollers: dict[str, Roller], repository: Repository, events: Sequence[Any]) -> None:
    """Tell each kind's roller how many of `events` it can now catch up with, and up to
    where the store holds rows (read here, right after their commit, so a catch-up covers
    them without waiting for the writes begun since)."""
    counts = count_by_type(events)
    for name, roller in rollers.items():
        types = {kind.type for kind in features.named(name).events}
        rows = sum(n for event_type, n in counts.items() if event_type in types)
        if rows:
            try:
                stored_to = roller.derived.frontier(repository)
            except StoreError:  # the catch-up reads it itself
                stored_to = None
            roller.stored(rows, stored_to)


def rollers_of_all_kinds(repository: Repository) -> dict[str, Roller]:
    """A roller per kind with derived tables, by feature name."""
    return {
        feature.name: Roller(repository, feature.derived, feature.name)
        for feature in features.FEATURES
        if feature.derived is not None
    }


class Housekeeper:
    """Prunes old rows once a day while `wm flush` runs, on a thread and connection of its
    own (see `housekeeping.prune_if_due`): the writes never wait for it."""

    def __init__(
        self,
        repository: Repository,
        keep_raw: float | None,
        keep_dead_letters: float | None,
        *,
        every: float = 3600.0,
    ) -> None:
        self._source = repository
        self.keep_raw = keep_raw
        self.keep_dead_letters = keep_dead_letters
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wm-flush-prune", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from website_monitor import housekeeping

        connection: Repository | None = None
        try:
            while not self._stop.is_set():
                try:
                    connection = connection or self._source.reopen()
                    housekeeping.prune_if_due(connection, self.keep_raw, self.keep_dead_letters)
                except StoreError as exc:
                    logger.warning("old rows not pruned: %s", exc.message)
                self._stop.wait(self.every)
        finally:
            if connection is not None:
                connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
