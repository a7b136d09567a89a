"""The sink behind `wm flush`: poll a batch, store it, then commit the offsets.

Order matters: the database commit happens before the offset commit, so a crash
in between redelivers messages the store already holds, and the unique
`event_id` turns that redelivery into a no-op (at-least-once delivery,
exactly-once effect). Undecodable messages are dead-lettered in the same
transaction as the good ones, so they too are never lost or skipped.

Rows are stored raw; the derived tables of their kinds (the latency rollups)
catch up with them in bulk on a connection of their own (`transport.roller`),
alongside the writes: whenever enough rows are pending, whenever the consumer
is idle, and before a drain exits.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from website_monitor import collector, log
from website_monitor.codec import MAX_BATCH, Event, decode_many, legacy_event_id
from website_monitor.deadletters.store import DeadLetter
from website_monitor.errors import (
    DecodeError,
    StoreError,
    StoreUnavailable,
    WebsiteMonitorError,
)
from website_monitor.store import Repository
from website_monitor.transport.roller import (
    Housekeeper,
    Roller,
    rollers_of_all_kinds,
    tell_rollers,
)
from website_monitor.transport.writer import prepare, store_events

logger = log.get("flush")


class Consumer(Protocol):
    """What the sink needs of a consumer (`transport._consumer.GroupConsumer` in `wm flush`).

    `poll` returns records (with `topic`, `partition`, `offset`, `key`, `value`)
    by partition; `commit` takes, per partition, the next offset to read and
    returns once the broker stored it.
    """

    def poll(self, timeout_ms: int = ..., max_records: int | None = ...) -> dict[Any, Any]: ...

    def commit(self, offsets: Mapping[Any, int]) -> None: ...

    def assignment(self) -> set[Any]: ...


class FlushInterrupted(WebsiteMonitorError):
    """Stopped while a batch could not be stored; it will be delivered again."""


@dataclasses.dataclass
class FlushStats:
    consumed: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    batches: int = 0
    started: float = dataclasses.field(default_factory=time.monotonic)

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.consumed / elapsed if elapsed > 0 else 0.0


@dataclasses.dataclass(frozen=True)
class Backoff:
    """Exponential backoff between retries, capped."""

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0

    def delays(self) -> Iterable[float]:
        delay = self.initial
        while True:
            yield delay
            delay = min(delay * self.factor, self.maximum)


@dataclasses.dataclass
class Batch:
    """One poll's records, decoded: events (with the record each came from) and dead letters."""

    events: list[Event] = dataclasses.field(default_factory=list)
    origins: list[Any] = dataclasses.field(default_factory=list)
    dead: list[DeadLetter] = dataclasses.field(default_factory=list)
    #: Events the store refused (dead-lettered, so neither stored nor duplicates).
    refused: int = 0


#: Dead letters logged one by one per DEAD_LETTER_LOG_WINDOW seconds; the others are counted
#: in the next one logged (and all in the progress lines, and in `wm dlq list`).
DEAD_LETTERS_LOGGED = 10
DEAD_LETTER_LOG_WINDOW = 60.0


def dead_letter(record: Any, reason: str, log: log.LogRate | None = None) -> DeadLetter:
    """Keep an undecodable or unstorable record, with its position and the reason; logged
    if `log` has room (always without one)."""
    held_back = 0 if log is None else log.take()
    if held_back is not None:
        logger.warning(
            "dead-lettered message %s/%d/%d: %s%s",
            record.topic,
            record.partition,
            record.offset,
            reason,
            f" ({held_back} more dead-lettered before it were not logged; `wm dlq list` shows"
            " every one)"
            if held_back
            else "",
            extra={"event": "dead_letter", "reason": reason, "not_logged_before": held_back},
        )
    return DeadLetter(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        reason=reason,
    )


def split_batch(records: Iterable[Any], log: log.LogRate | None = None) -> Batch:
    """Decode polled records into events and dead letters (with the reason, logged as
    `log` allows)."""
    batch = Batch()
    for record in records:
        if record.value is None:
            batch.dead.append(dead_letter(record, "empty message (no value)", log))
            continue
        # derived only for a message that carries no id of its own
        fallback = functools.partial(legacy_event_id, record.topic, record.partition, record.offset)
        try:
            events = decode_many(record.value, fallback_id=fallback)
        except DecodeError as exc:
            batch.dead.append(dead_letter(record, exc.reason, log))
            continue
        except Exception as exc:  # a decoder bug must not stall the partition
            reason = f"internal error while decoding: {type(exc).__name__}: {exc}"[:500]
            batch.dead.append(dead_letter(record, reason, log))
            continue
        if len(events) == 1:
            batch.events.append(events[0])
            batch.origins.append(record)
        else:  # a batch message: its events share its record
            batch.events.extend(events)
            batch.origins.extend([record] * len(events))
    return batch


class _Write:
    """One batch being stored on a thread of its own, while the next one is polled."""

    def __init__(
        self,
        sink: Sink,
        polled: dict[Any, list[Any]],
        batch: Batch,
        stop: threading.Event,
    ) -> None:
        self.polled = polled
        self.consumed = sum(len(records) for records in polled.values())
        self.batch = batch
        self.inserted = 0
        self.error: BaseException | None = None
        self._sink = sink
        self._stop = stop
        # A daemon: should the process exit with a write under way, its transaction is
        # rolled back and, its offsets never committed, the batch is delivered again.
        self._thread = threading.Thread(target=self._run, name="wm-flush-write", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.inserted = self._sink._write(self.batch, self._stop)
        except BaseException as exc:  # handed to the polling thread by wait()
            self.error = exc

    def done(self) -> bool:
        return not self._thread.is_alive()

    def wait(self) -> int:
        """The rows inserted, once the batch is committed; re-raises what the write raised."""
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.inserted


class Sink:
    """Moves batches from a consumer into a repository, committing DB before offsets.

    Two batches overlap: while batch N is written (on a thread of its own, in one
    database transaction), batch N+1 is polled and decoded. The consumer is used by
    the polling thread only (librdkafka's consumer delivers its callbacks, logs and
    errors there, and is not shared with the write thread): it commits
    the offsets of batch N once the write reports batch N committed, and before
    the write of batch N+1 starts, so offsets are committed in order and only for
    rows durably stored.
    """

    def __init__(
        self,
        consumer: Consumer,
        repository: Repository,
        *,
        batch_size: int = 10_000,
        backoff: Backoff | None = None,
        progress_every: float = 5.0,
        on_progress: Callable[[FlushStats], None] | None = None,
        rollups: bool = True,
        keep_raw: float | None = None,
        keep_dead_letters: float | None = None,
    ) -> None:
        self.consumer = consumer
        self.repository = repository
        self.batch_size = batch_size
        self.backoff = backoff or Backoff()
        self.progress_every = progress_every
        self.on_progress = on_progress or _log_progress
        self.stats = FlushStats()
        self.rollups = rollups
        #: Per kind with derived tables (feature name), what catches them up while `run` runs.
        self.rollers: dict[str, Roller] = {}
        self.keep = (keep_raw, keep_dead_letters)
        self.dead_letter_log = log.LogRate(DEAD_LETTERS_LOGGED, DEAD_LETTER_LOG_WINDOW)
        #: Events per message in the last poll (a `hits` message holds up to MAX_BATCH).
        #: Before the first, the most a message holds: the first batch is then at most
        #: `batch_size` events, not `batch_size` messages of up to MAX_BATCH each.
        self.events_per_message = float(MAX_BATCH)

    def run(
        self,
        stop: threading.Event,
        *,
        drain: bool = False,
        idle_timeout: float = 3.0,
        assignment_timeout: float = 60.0,
    ) -> FlushStats:
        """Flush until `stop` is set, or (with `drain`) until no message came for `idle_timeout`.

        On the way out the batch being written is finished and its offsets committed.
        """
        collector.pace_for_throughput()
        last_activity = time.monotonic()
        last_report = time.monotonic()
        assigned = False
        pending: _Write | None = None
        drained = False
        self.rollers = rollers_of_all_kinds(self.repository) if self.rollups else {}
        housekeeper = Housekeeper(self.repository, *self.keep) if any(self.keep) else None
        try:
            while not stop.is_set():
                if pending is not None and pending.done():
                    self.finish(pending)
                    pending = None
                # With a write under way, wait briefly: if nothing came, finish that write
                # and commit its offsets now rather than after a long idle poll.
                timeout_ms = 500 if pending is None else 50
                polled = self.consumer.poll(timeout_ms=timeout_ms, max_records=self._messages())
                now = time.monotonic()
                if not polled and pending is not None:
                    self.finish(pending)
                    pending = None
                elif not polled:
                    for roller in self.rollers.values():
                        roller.idle()
                if polled:
                    decoded = split_batch(
                        (r for part in polled.values() for r in part), self.dead_letter_log
                    )
                    decoded.events = prepare(self.repository, decoded.events)
                    messages = sum(len(part) for part in polled.values())
                    self.events_per_message = (len(decoded.events) + len(decoded.dead)) / max(
                        messages, 1
                    )
                    if pending is not None:
                        self.finish(pending)
                        pending = None
                    pending = _Write(self, polled, decoded, stop)
                    last_activity = now
                if not assigned and self.consumer.assignment():
                    assigned = True
                    last_activity = now
                if now - last_report >= self.progress_every:
                    self.on_progress(self.stats)
                    last_report = now
                if drain:
                    if assigned and now - last_activity >= idle_timeout:
                        break
                    if not assigned and now - last_activity >= assignment_timeout:
                        raise WebsiteMonitorError(
                            f"no partition was assigned within {assignment_timeout:.0f}s",
                            hint="another consumer in the group may hold every partition",
                        )
            if pending is not None:
                self.finish(pending)
                pending = None
            drained = drain and not stop.is_set()
        finally:
            if pending is not None and not pending.done():
                stop.set()  # an error on this thread: let a retrying write give up
            # Drained, the rollups end up holding every row; stopped, exit promptly.
            for roller in self.rollers.values():
                roller.close(catch_up=drained)
            self.rollers = {}
            if housekeeper is not None:
                housekeeper.close()
        self.on_progress(self.stats)
        return self.stats

    def _messages(self) -> int:
        """Messages to poll for a batch of about `batch_size` events. Asked for more than
        it holds ready, the consumer waits out the poll's timeout for them: 10,000
        `hits` messages are up to ten million hits."""
        return max(1, round(self.batch_size / max(self.events_per_message, 1.0)))

    def finish(self, write: _Write) -> None:
        """Wait until `write` is committed to the store, then commit its offsets."""
        inserted = write.wait()
        self.stats.consumed += write.consumed
        self.stats.stored += inserted
        self.stats.duplicates += len(write.batch.events) - inserted - write.batch.refused
        self.stats.dead_lettered += len(write.batch.dead)
        self.stats.batches += 1
        self._commit(write.polled)

    def _write(self, batch: Batch, stop: threading.Event) -> int:
        """Store the batch; then tell the rollers how many rows they can catch up with."""
        inserted = self._store(batch, stop)
        tell_rollers(self.rollers, self.repository, batch.events)
        return inserted

    def _store(self, batch: Batch, stop: threading.Event) -> int:
        """Store the batch in one go; if the data itself is refused, event by event."""
        try:
            return self._retrying(
                lambda: store_events(self.repository, batch.events, batch.dead), stop
            )
        except StoreError as exc:
            logger.warning(
                "the store refused a batch (%s); storing its events one by one", exc.message
            )
        inserted = self._retrying(lambda: store_events(self.repository, [], batch.dead), stop)
        for event, record in zip(batch.events, batch.origins, strict=True):
            try:
                inserted += self._retrying(lambda: store_events(self.repository, [event]), stop)  # noqa: B023
            except StoreError as exc:
                letter = dead_letter(
                    record, f"rejected by the store: {exc.message}"[:500], self.dead_letter_log
                )
                batch.dead.append(letter)
                batch.refused += 1
                self._retrying(lambda: store_events(self.repository, [], [letter]), stop)  # noqa: B023
        return inserted

    def _retrying(self, write: Callable[[], int], stop: threading.Event) -> int:
        """Run `write`, retrying with backoff while the store is unreachable."""
        for attempt, delay in enumerate(self.backoff.delays(), start=1):
            try:
                return write()
            except StoreUnavailable as exc:
                logger.warning(
                    "store unavailable (attempt %d), retrying in %.1fs: %s",
                    attempt,
                    delay,
                    exc.message,
                    extra={"event": "retry", "attempt": attempt},
                )
                if stop.wait(delay):
                    raise FlushInterrupted(
                        "stopped while the store was unavailable; the pending batch was not "
                        "committed and will be delivered again"
                    ) from None
        raise AssertionError("unreachable")

    def _commit(self, polled: dict[Any, list[Any]]) -> None:
        offsets = {
            partition: max(r.offset for r in records) + 1
            for partition, records in polled.items()
            if records
        }
        try:
            self.consumer.commit(offsets)
        except Exception as exc:  # a later commit covers these offsets; redelivery is harmless
            logger.warning(
                "offset commit failed, the batch may be delivered again: %s",
                exc,
                extra={"event": "commit_failed"},
            )


def _log_progress(stats: FlushStats) -> None:
    logger.info(
        "flushed %d messages (%.0f msg/s): %d stored, %d duplicates, %d dead-lettered",
        stats.consumed,
        stats.rate,
        stats.stored,
        stats.duplicates,
        stats.dead_lettered,
        extra={"event": "progress"},
    )
