"""UDP telemetry: the llpp binary protocol and StatsD lines, aggregated into time buckets.

`llpp` and `statsd` decode datagrams, `buckets` aggregates them, `listener`
receives them on a UDP socket (`wm listen`), `sender` sends llpp datagrams
(`wm send`); `codec` is the `telemetry` message, `schema` the table, `store`
the merging writer, `queries` the read side, `web` and `metrics` its part of
`wm serve`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from website_monitor.feature import EventKind, Feature
from website_monitor.telemetry import codec, schema, store

if TYPE_CHECKING:
    from website_monitor.web.section import Section


def _web() -> tuple[Section, ...]:
    from website_monitor.telemetry.web import SECTION

    return (SECTION,)


FEATURE = Feature(
    name="telemetry",
    title="Telemetry",
    events=(
        EventKind(
            kind="telemetry", type=codec.TelemetryBucket, decode=codec.decode, write=store.write
        ),
    ),
    migrations=schema.MIGRATIONS,
    web=_web,
)
