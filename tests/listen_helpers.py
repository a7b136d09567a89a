"""Helpers for the telemetry listener tests: a listener on an ephemeral port, a stepping clock."""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator

from website_monitor.store import open_store
from website_monitor.telemetry.listener import Listener, ListenerStats
from website_monitor.transport.direct import StoreWriter

#: 2026-11-23T10:00:00Z, the start of a 10-minute bucket.
BUCKET_START = 1_795_428_000.0


class SteppingClock:
    """Each reading is 1 ms after the previous one, from `start`: arrival order is time order."""

    def __init__(self, start: float) -> None:
        self._ticks = itertools.count()
        self.start = start

    def __call__(self) -> float:
        return self.start + next(self._ticks) / 1000.0


@contextlib.contextmanager
def running_listener(
    store_url: str, clock: SteppingClock | None = None, **options: object
) -> Iterator[Listener]:
    """A listener writing to `store_url`, bound to 127.0.0.1 on an ephemeral port."""
    reports: list[ListenerStats] = []
    writer = StoreWriter(open_store(store_url))
    listener = Listener(
        writer,
        bind="127.0.0.1:0",
        clock=clock or SteppingClock(BUCKET_START + 60),
        on_report=reports.append,
        **options,  # type: ignore[arg-type]
    )
    listener.start()
    listener.reports = reports  # type: ignore[attr-defined]
    try:
        yield listener
    finally:
        listener.stop()
        writer.close()


def clear_of_bucket_boundary(bucket_seconds: float = 600, margin: float = 15) -> None:
    """Wait, if needed, so that the next `margin` seconds of wall time stay in one bucket."""
    remaining = bucket_seconds - time.time() % bucket_seconds
    if remaining < margin:
        time.sleep(remaining + 0.05)
