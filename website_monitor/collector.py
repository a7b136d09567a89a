"""The garbage collector's pace for the long data loops (`wm flush`, `wm tail`).

These loops allocate millions of short-lived, acyclic objects (decoded
messages, parsed lines, rows). At CPython's default pace (a young collection
every 700 allocations, each older one scanning every live object) collecting
cost a flush about a third of its decoding time; collecting every 10,000
allocations keeps that below a tenth, and cycles are still freed.
"""

from __future__ import annotations

import gc

#: Allocations between young collections, and young (then older) collections between
#: older ones.
THRESHOLDS = (10_000, 10, 10)


def pace_for_throughput() -> None:
    """Collect less often, for a process whose work is a stream of small objects."""
    if gc.get_threshold()[0] < THRESHOLDS[0]:
        gc.set_threshold(*THRESHOLDS)
