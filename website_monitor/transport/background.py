"""Writing a source's batches on a thread of its own, so reading goes on meanwhile.

`wm tail --publish` without a broker parsed a batch, then waited while the
store took it (a COPY costs the database server more than the parse costs the
tail), then parsed the next. `BackgroundPublisher` hands each batch to a writer
thread and returns: the next batch is parsed while the store takes the last one.
At most `depth` batches wait, so a reader faster than the store keeps its memory
flat; failed batches come back from `take_failed`, as from the Kafka producer.
Only where the store works in parallel (`store_takes_writes_in_parallel`):
SQLite's inserts run under the interpreter lock, so a thread of their own only
made them wait for it (36k against 47k hits/s on 1M lines).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence

from website_monitor.codec import Event
from website_monitor.errors import DeliveryError
from website_monitor.transport import Publisher


def store_takes_writes_in_parallel(publisher: Publisher) -> bool:
    """Whether `publisher` writes to a store whose server does the work (PostgreSQL), so
    a writer thread overlaps it with the reading."""
    from website_monitor.transport.direct import StoreWriter

    return isinstance(publisher, StoreWriter) and publisher.repository.dialect.concurrent_writers


#: What the writer thread is handed to stop.
_STOP = None


class BackgroundPublisher:
    """`publisher.publish` on a thread of its own, a batch at a time, in order.

    `send` returns at once (or waits while `depth` batches are queued); the
    DeliveryErrors of the batches sent come back from `take_failed`, with the
    batch each was raised for; `settle` waits until every batch sent was handled.
    Anything else the writer raises is raised again on the caller's thread.
    """

    def __init__(self, publisher: Publisher, *, depth: int = 2) -> None:
        self.publisher = publisher
        self._queue: queue.Queue[Sequence[Event] | None] = queue.Queue(maxsize=depth)
        self._failed: list[tuple[Sequence[Event], DeliveryError]] = []
        self._lock = threading.Lock()
        self._crash: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="wm-store-writer", daemon=True)
        self._thread.start()

    def publish(self, events: Sequence[Event]) -> int:
        """Write `events` and wait for them (the `Publisher` interface)."""
        self.settle()
        return self.publisher.publish(events)

    def send(self, events: Sequence[Event]) -> None:
        """Queue `events` for the writer thread."""
        self._raise_crash()
        if events:
            self._queue.put(events)

    def take_failed(self) -> list[tuple[Sequence[Event], DeliveryError]]:
        """The batches that failed since the last call, each with its error."""
        self._raise_crash()
        with self._lock:
            failed, self._failed = self._failed, []
        return failed

    def settle(self) -> None:
        """Wait until every batch sent was written or failed."""
        self._queue.join()
        self._raise_crash()

    def close(self) -> None:
        """Write what was sent, stop the thread and close the publisher."""
        try:
            if self._thread.is_alive():
                self._queue.put(_STOP)
                self._thread.join()
        finally:
            self.publisher.close()

    def _run(self) -> None:
        while True:
            events = self._queue.get()
            try:
                if events is _STOP:
                    return
                self.publisher.publish(events)
            except DeliveryError as exc:
                assert events is not None
                with self._lock:
                    self._failed.append((events, exc))
            except BaseException as exc:  # raised again on the caller's thread
                self._crash = self._crash or exc
            finally:
                self._queue.task_done()

    def _raise_crash(self) -> None:
        if self._crash is not None:
            crash, self._crash = self._crash, None
            raise crash
