"""HTTP probes: checks of URLs, their results, latency rollups, and what the views show of them.

`check` runs the checks (`wm probe`), `codec` is the message, `schema` the
tables, `store` the writer, `stats` and `queries` the read side (`models` the
documents they return), `rollups` the day and week histograms, `web` and
`metrics` its part of `wm serve`, `public` the status page and badges. A check
is HTTP (`check`), TCP (`tcp`) or DNS (`dns`), its URL parsed by `targets`
and judged by `judge` with `conditions` (`--expect`); `certs` reads TLS
certificates, `uptime` defines uptime for every view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from website_monitor.feature import EventKind, Feature
from website_monitor.probes import codec, schema, store
from website_monitor.probes.rollups import DERIVED

if TYPE_CHECKING:
    from website_monitor.web.section import Section


def _web() -> tuple[Section, ...]:
    from website_monitor.probes.public import SECTION as PUBLIC
    from website_monitor.probes.web import SECTION

    return (SECTION, PUBLIC)


FEATURE = Feature(
    name="probes",
    title="HTTP probes",
    events=(
        EventKind(
            kind="probe",
            type=codec.ProbeResult,
            decode=codec.decode,
            decode_fast=codec.decode_fast,
            write=store.write,
            copy_text=store.copy_rows,
        ),
    ),
    migrations=schema.MIGRATIONS,
    derived=DERIVED,
    web=_web,
)
