"""Shared pieces of the benchmarks: results, a table, scratch databases."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

# The test services (broker, HTTP server, PostgreSQL helpers) live in tests/services.py.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests import services  # noqa: E402

PG_ADMIN_URL = os.environ.get("WM_BENCH_DB_URL", services.pg_admin_url())


@dataclasses.dataclass
class Result:
    """One measured figure and the baseline it is compared to, measured in the same run."""

    bench: str
    measured: str
    value: float
    unit: str
    baseline: str
    baseline_value: float
    target: float | None = None  # minimum ratio value / baseline_value
    higher_is_better: bool = True
    note: str = ""

    @property
    def ratio(self) -> float:
        if self.higher_is_better:
            return self.value / self.baseline_value if self.baseline_value else float("inf")
        return self.baseline_value / self.value if self.value else float("inf")

    @property
    def met(self) -> str:
        if self.target is None:
            return ""
        return "yes" if self.ratio >= self.target else "NO"


def fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def table(results: list[Result]) -> str:
    lines = [
        "| bench | measured | value | baseline (same run) | baseline value | ratio | target"
        " | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ratio = f"{r.ratio:.2f}x" if r.higher_is_better else f"{r.ratio:.1f}x faster"
        target = "" if r.target is None else f">= {r.target:g}x"
        lines.append(
            f"| {r.bench} | {r.measured} | {fmt(r.value)} {r.unit} | {r.baseline} |"
            f" {fmt(r.baseline_value)} {r.unit} | {ratio} | {target} | {r.met} |"
        )
    notes = [f"- {r.bench}: {r.note}" for r in results if r.note]
    return "\n".join(lines + (["", *notes] if notes else []))


def scratch_database(prefix: str) -> contextlib.AbstractContextManager[str]:
    """A new PostgreSQL database for one bench, dropped afterwards."""
    return services.fresh_database(PG_ADMIN_URL, prefix=f"wm_bench_{prefix}")


class Timer:
    def __enter__(self) -> Timer:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.perf_counter() - self.started


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def time_sink(
    sink: Any,
    consumer: Any,
    stop: threading.Event | None = None,
    stop_at: int | None = None,
    *,
    events: bool = False,
) -> dict[str, float]:
    """Time a flush's `Sink` as it runs: the marks returned get "first", when a poll first
    brought messages, and "last", when a batch was last stored and its offsets committed.
    With `stop_at`, `stop` is set once the sink consumed that many messages (with `events`,
    once it handled that many events: a message may hold many), so the run's end is not
    an idle wait for messages that will not come."""
    marks: dict[str, float] = {}
    poll, finish = consumer.poll, sink.finish

    def timed_poll(*args: Any, **kwargs: Any) -> Any:
        polled = poll(*args, **kwargs)
        if polled:
            marks.setdefault("first", time.perf_counter())
        return polled

    def timed_finish(write: Any) -> None:
        finish(write)  # stored, then offsets committed
        marks["last"] = time.perf_counter()
        stats = sink.stats
        done = stats.stored + stats.duplicates + stats.dead_lettered if events else stats.consumed
        if stop is not None and stop_at is not None and done >= stop_at:
            stop.set()

    consumer.poll = timed_poll
    sink.finish = timed_finish
    return marks
