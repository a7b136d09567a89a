"""Decode only: `split_batch` (what `wm flush` runs on every polled batch) on encoded probes,
and `copy_rows` (the COPY text the store builds from them).

No broker, no store: 10,000 probe messages as `encode` writes them, decoded by
`split_batch`, against the field-by-field decoder alone (`events._decode_slow`)
on the same values; then the COPY text of the same probes, against a generic
formatter (`"\t".join(map(str, row))`, which writes None and booleans wrongly
for COPY but does the least work). Each figure is the best of 15 runs, so the
other work on a shared machine shows as little as possible.

Usage: python -m bench.decode [--messages N]
"""

from __future__ import annotations

import argparse
import functools
import timeit
from typing import Any

from bench._common import Result, log, table
from bench.flush import generate
from website_monitor.codec import decode_slow as _decode_slow
from website_monitor.codec import encode, legacy_event_id
from website_monitor.probes.codec import ProbeResult
from website_monitor.probes.store import copy_rows, probe_row
from website_monitor.transport._consumer import Record
from website_monitor.transport.sink import split_batch

MESSAGES = 10_000
REPEATS = 15


def records(count: int) -> list[Record]:
    return [Record("t", 0, i, b"k", encode(probe)) for i, probe in enumerate(generate(count))]


def best(function: Any) -> float:
    return min(timeit.repeat(function, number=1, repeat=REPEATS))


def slow_only(batch: list[Record]) -> None:
    for record in batch:
        fallback = functools.partial(legacy_event_id, record.topic, record.partition, record.offset)
        _decode_slow(record.value, fallback_id=fallback)


def generic_rows(probes: list[ProbeResult]) -> str:
    """The baseline for `copy_rows`: every field through `str`, no escaping, no NULLs."""
    return "".join(["\t".join(map(str, probe_row(probe))) + "\n" for probe in probes])


def run(count: int) -> list[Result]:
    batch = records(count)
    decoded = split_batch(batch)
    assert not decoded.dead
    probes = [event for event in decoded.events if isinstance(event, ProbeResult)]
    split_s = best(lambda: split_batch(batch))
    slow_s = best(lambda: slow_only(batch))
    log(f"decode: split_batch {split_s / count * 1e6:.2f} us/message")
    rows_s = best(lambda: copy_rows(probes))
    generic_s = best(lambda: generic_rows(probes))
    log(f"decode: copy_rows {rows_s / count * 1e6:.2f} us/row")
    return [
        Result(
            "flush/decode-only",
            f"split_batch on {count:,} encoded probes (best of {REPEATS})",
            split_s / count * 1e6,
            "us/message",
            "field-by-field decoder alone, same values",
            slow_s / count * 1e6,
            higher_is_better=False,
        ),
        Result(
            "flush/copy-text",
            f"copy_rows on the same {count:,} probes (best of {REPEATS})",
            rows_s / count * 1e6,
            "us/row",
            'generic "\\t".join(map(str, row)) per row',
            generic_s / count * 1e6,
            higher_is_better=False,
        ),
    ]


def run_size(size: str) -> list[Result]:
    """What `python -m bench --size SIZE` runs: the same at every size (it takes seconds)."""
    return run(MESSAGES)


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=MESSAGES)
    args = parser.parse_args(argv)
    results = run(args.messages)
    print(table(results))
    return results


if __name__ == "__main__":
    main()
