"""A local spool for results that could not be delivered, so a broker outage loses nothing.

When `wm probe` cannot publish (broker or store down), the undelivered events
are appended to a JSON-lines file under the data directory. The next publish,
or `wm spool send`, sends the spool first and empties it only once everything
in it was acknowledged. Events keep their `event_id`, so a spool sent twice
still stores each result once.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from website_monitor import log
from website_monitor.codec import Event, decode, encode
from website_monitor.errors import (
    DecodeError,
    DeliveryError,
    EventsRefused,
    WebsiteMonitorError,
)
from website_monitor.transport import Publisher

logger = log.get("spool")


class SpoolError(WebsiteMonitorError):
    """The spool itself cannot be read or written."""


class Spool:
    """Append-only JSON lines, one file per destination, guarded by a file lock."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def for_destination(cls, data_dir: Path, destination: str) -> Spool:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in destination)
        return cls(data_dir / "spool" / f"{safe}.jsonl")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock = open(self.path.with_suffix(".lock"), "a")  # noqa: SIM115 - held below
        except OSError as exc:
            raise SpoolError(
                f"cannot use the spool {self.path}: {exc.strerror or exc}",
                hint="check --data-dir / WM_DATA_DIR",
            ) from None
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, events: Sequence[Event]) -> None:
        if not events:
            return
        with self._locked():
            try:
                with open(self.path, "ab") as fh:
                    for event in events:
                        fh.write(encode(event) + b"\n")
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                raise SpoolError(
                    f"cannot write the spool {self.path}: {exc.strerror or exc}",
                    hint="check --data-dir / WM_DATA_DIR",
                ) from None

    def __len__(self) -> int:
        try:
            with open(self.path, "rb") as fh:
                return sum(1 for line in fh if line.strip())
        except FileNotFoundError:
            return 0

    def send(self, publisher: Publisher) -> int:
        """Publish everything spooled; the file is emptied only after all was acknowledged."""
        with self._locked():
            try:
                lines = self.path.read_bytes().splitlines()
            except FileNotFoundError:
                return 0
            events: list[Event] = []
            unreadable: list[bytes] = []
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    events.append(decode(line))
                except DecodeError as exc:  # kept aside, never dropped
                    logger.error("spool line %d of %s is unreadable: %s", number, self.path, exc)
                    unreadable.append(line)
            if events:
                publisher.publish(events)
            if unreadable:
                with open(self.path.with_suffix(".rejected"), "ab") as rejected:
                    rejected.writelines(line + b"\n" for line in unreadable)
            self.path.unlink()
            if events:
                logger.info("sent %d spooled results from %s", len(events), self.path)
            return len(events)


class SpoolingPublisher:
    """Sends the spool first, then the new events; whatever is not delivered is spooled.

    The inner publisher is opened lazily, so an unreachable broker or store at
    start-up also ends in the spool rather than in lost results.
    """

    def __init__(self, open_inner: Callable[[], Publisher], spool: Spool) -> None:
        self.open_inner = open_inner
        self.spool = spool
        self.inner: Publisher | None = None

    def publish(self, events: Sequence[Event]) -> int:
        try:
            if self.inner is None:
                self.inner = self.open_inner()
            if len(self.spool):
                self.spool.send(self.inner)
            return self.inner.publish(events)
        except EventsRefused:
            raise  # kept in dead_letters: nothing to spool
        except DeliveryError as exc:
            undelivered = exc.undelivered if exc.undelivered else list(events)
            return self._spool_and_raise(events, undelivered, exc)
        except WebsiteMonitorError as exc:
            return self._spool_and_raise(events, list(events), exc)

    def _spool_and_raise(
        self, events: Sequence[Event], undelivered: Sequence[object], cause: WebsiteMonitorError
    ) -> int:
        pending = [e for e in events if e in undelivered] or list(events)
        try:
            self.spool.append(pending)
        except SpoolError as exc:
            raise DeliveryError(
                f"{cause.message}; and {exc.message}: {len(pending)} results were not kept",
                hint=exc.hint,
                undelivered=pending,
            ) from None
        raise DeliveryError(
            f"{cause.message}; {len(pending)} results spooled to {self.spool.path} "
            f"({len(self.spool)} waiting)",
            hint="they are sent by the next wm probe, or now by `wm spool send`",
            undelivered=pending,
        )

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()
