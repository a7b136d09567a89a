"""The direct writer: sources store events themselves when no broker is configured."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from website_monitor import features, housekeeping, log
from website_monitor.codec import Event
from website_monitor.errors import DeliveryError, EventsRefused, StoreError
from website_monitor.store import Repository
from website_monitor.transport.roller import Roller, rollers_of_all_kinds, tell_rollers
from website_monitor.transport.writer import kinds_stored, store_refusing

logger = log.get("store")


class StoreWriter:
    """A publisher that writes straight into a repository, in one transaction.

    The derived tables (rollups) of the kinds written catch up at most every
    `catch_up_every` seconds, and on `close`: a source writing thousands of rows a
    second (`wm tail --publish`) would otherwise spend most of its time catching up
    a thousand rows at a time. Reads are right meanwhile: they add the rows not
    rolled up yet. Where writers commit concurrently (PostgreSQL), the catch-ups
    run on a thread and connection of their own, as in `wm flush`
    (`transport.roller`), so the writes never wait for them.
    """

    def __init__(
        self,
        repository: Repository,
        *,
        keep_raw: float | None = None,
        keep_dead_letters: float | None = None,
        catch_up_every: float = 1.0,
    ) -> None:
        self.repository = repository
        self.keep_raw = keep_raw
        self.keep_dead_letters = keep_dead_letters
        self.catch_up_every = catch_up_every
        #: Kinds written since their last catch-up, and when that was (monotonic).
        self._behind: set[str] = set()
        self._caught_up = -math.inf
        self._rollers: dict[str, Roller] | None = None

    def publish(self, events: Sequence[Event]) -> int:
        try:
            _, refusals = store_refusing(self.repository, events)
        except StoreError as exc:
            raise DeliveryError(
                f"{len(events)} results were not stored: {exc.message}",
                hint=exc.hint,
                undelivered=events,
            ) from exc
        if self.repository.dialect.concurrent_writers:
            if self._rollers is None:
                self._rollers = rollers_of_all_kinds(self.repository)
            tell_rollers(self._rollers, self.repository, events)
        else:
            self._behind |= kinds_stored(events)
        if time.monotonic() - self._caught_up >= self.catch_up_every:
            self._catch_up()
        housekeeping.prune_if_due(self.repository, self.keep_raw, self.keep_dead_letters)
        refused = [reason for reason in refusals if reason]
        if refused:
            raise EventsRefused(
                f"{len(refused)} of {len(events)} results were refused by the store and kept"
                f" in dead_letters: {refused[0]}",
                hint="`wm dlq list` shows them; `wm dlq replay` stores them once the store accepts",
                refused=len(refused),
            )
        return len(events)

    def _catch_up(self) -> None:
        """Keep the derived tables of the kinds written current, as a flush does in bulk:
        the rollers catch up on their thread, or (SQLite) the kinds behind, here."""
        self._caught_up = time.monotonic()
        for roller in (self._rollers or {}).values():
            roller.idle()
        behind, self._behind = self._behind, set()
        for name in sorted(behind):
            derived = features.named(name).derived
            if derived is None:
                continue
            try:
                derived.catch_up(self.repository)
            except StoreError as exc:  # stored all the same; a later catch-up covers them
                logger.warning("%s rollups not brought up to date: %s", name, exc.message)

    def close(self) -> None:
        try:
            for roller in (self._rollers or {}).values():
                roller.close(catch_up=True)
            if self._behind:
                self._catch_up()
        finally:
            self.repository.close()
