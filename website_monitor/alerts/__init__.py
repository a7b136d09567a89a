"""Alerting: incidents from the stored checks, notifications through an outbox, SLOs.

`rules` reads the `[[notifier]]`, `[[alert]]`, `[[maintenance]]` and `[[slo]]`
tables of wm.toml; `checks` walks consecutive failed and good checks;
`evaluate` is one pass of `wm alert` (checks, latency, burn rates, reminders);
`incidents` writes incidents with their transitions and outbox rows in the
caller's transaction; `outbox` delivers them through `notifiers` (one module
per type); `slo` computes SLIs from the probes' rollups; `schema` the tables,
`queries` and `models` the read side, `web` and `metrics` its part of `wm serve`.
High-traffic alerts of `wm tail` are incidents too (kind `traffic`), written
by `logs.store`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from website_monitor.alerts import schema
from website_monitor.feature import Feature

if TYPE_CHECKING:
    from website_monitor.web.section import Section


def _web() -> tuple[Section, ...]:
    from website_monitor.alerts.web import INCIDENTS, SLOS

    return (INCIDENTS, SLOS)


FEATURE = Feature(name="alerts", title="Incidents", migrations=schema.MIGRATIONS, web=_web)
