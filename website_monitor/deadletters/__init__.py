"""Dead letters: messages the flush could not decode or store, kept with the reason.

`store` writes and lists them, `replay` decodes them again (`wm dlq replay`),
`web` and `metrics` show them, with the schema, in `wm serve`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from website_monitor.deadletters import schema
from website_monitor.feature import Feature

if TYPE_CHECKING:
    from website_monitor.web.section import Section


def _web() -> tuple[Section, ...]:
    from website_monitor.deadletters.web import SECTION

    return (SECTION,)


FEATURE = Feature(name="deadletters", title="Store", migrations=schema.MIGRATIONS, web=_web)
