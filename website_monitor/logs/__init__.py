"""Access logs: formats, following files, time windows, summaries, alerts, and the hits store.

`formats`, `follower`, `windows`, `summary`, `alerts`, `monitor` and `publish`
are what `wm tail` runs; `codec` is the `hit` message, `schema` the tables, `store` the
writer, `queries` the read side (`models` the documents), `ingest` the
`POST /api/logs` parser, `web` and `metrics` its part of `wm serve`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from website_monitor.feature import BulkMessage, EventKind, Feature
from website_monitor.logs import bulk, codec, schema, store
from website_monitor.logs.rollups import DERIVED

if TYPE_CHECKING:
    from website_monitor.web.section import Section


def _web() -> tuple[Section, ...]:
    from website_monitor.logs.web import ALERTS, HITS

    return (HITS, ALERTS)


FEATURE = Feature(
    name="logs",
    title="Access logs",
    events=(
        EventKind(
            kind="hit",
            type=codec.Hit,
            decode=codec.decode,
            decode_fast=codec.decode_fast,
            decode_batch_fast=codec.decode_batch_fast,
            bulk=BulkMessage("hits", bulk.decode_hits, bulk.decode_hits_fast),
            copy_text=store.copy_rows,
            write=store.write,
        ),
    ),
    migrations=schema.MIGRATIONS,
    derived=DERIVED,
    web=_web,
)
