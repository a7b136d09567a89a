"""`wm db`: schema status and upgrades."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from website_monitor.cli._options import (
    common_options,
    load_settings,
    setting_option,
    store_options,
)
from website_monitor.cli._output import echo_json
from website_monitor.store.url import redact

if TYPE_CHECKING:
    from website_monitor.store import SchemaStatus


@click.group("db")
def command() -> None:
    """Manage the store's schema (it is also upgraded automatically on first use)."""


@command.command("upgrade")
@store_options
@common_options
def upgrade(**kwargs: Any) -> None:
    """Apply every pending migration."""
    from website_monitor.store import open_store

    settings = load_settings(kwargs)
    with open_store(settings.store_url(), migrate=False) as repository:
        before = repository.schema_status().current
        status = repository.migrate()
    click.echo(
        f"{redact(settings.store_url())}: schema version {before} -> {status.current}"
        if status.current != before
        else f"{redact(settings.store_url())}: schema is up to date (version {status.current})"
    )


@command.command("status")
@store_options
@common_options
def status(**kwargs: Any) -> None:
    """Show the schema version and pending migrations as JSON."""
    from website_monitor import housekeeping
    from website_monitor.probes.rollups import ROLLUP
    from website_monitor.rollups.maintain import pending, rolled_up_to
    from website_monitor.store import open_store

    settings = load_settings(kwargs)
    with open_store(settings.store_url(), migrate=False) as repository:
        current = repository.schema_status()
        shown = _as_json(current, redact(settings.store_url()))
        if not current.waiting:
            shown["rollups"] = {
                "rolled_up_to": rolled_up_to(repository, ROLLUP),
                "pending_probes": pending(repository, ROLLUP),
            }
            shown["raw"] = housekeeping.raw_status(repository)
        shown["tables"] = housekeeping.table_sizes(repository)
    echo_json(shown)


@command.command("rebuild-rollups")
@store_options
@common_options
def rebuild_rollups(**kwargs: Any) -> None:
    """Recompute the rollups (and what the catch-ups keep) from the raw rows."""
    from website_monitor import housekeeping
    from website_monitor.store import open_store

    settings = load_settings(kwargs)
    with open_store(settings.store_url()) as repository:
        counts = housekeeping.rebuild(repository)
    echo_json({"store": redact(settings.store_url()), **counts})


@command.command("prune")
@setting_option(
    "keep_raw",
    "--keep-raw",
    help="Delete raw probes and hits older than this (e.g. 90d); their rollups stay.",
)
@setting_option(
    "keep_dead_letters",
    "--keep-dead-letters",
    help="Delete dead letters received longer ago than this (e.g. 30d).",
)
@store_options
@common_options
def prune(**kwargs: Any) -> None:
    """Delete old raw rows (after their rollups are caught up) and old dead letters.

    Ranges before the raw rows kept are then answered from the rollups, at whole
    days. With keep_raw in the configuration, wm flush and the embedded writer
    prune once a day.
    """
    from website_monitor import housekeeping
    from website_monitor.errors import ConfigError
    from website_monitor.store import open_store

    settings = load_settings(kwargs)
    if settings.keep_raw is None and settings.keep_dead_letters is None:
        raise ConfigError(
            "nothing to prune", hint="give --keep-raw 90d and/or --keep-dead-letters 30d"
        )
    with open_store(settings.store_url()) as repository:
        done = housekeeping.prune(repository, settings.keep_raw, settings.keep_dead_letters)
    echo_json({"store": redact(settings.store_url()), **done})


def _as_json(status: SchemaStatus, store: str) -> dict[str, Any]:
    return {
        "store": store,
        "backend": status.backend,
        "version": status.current,
        "latest": status.latest,
        "pending": status.pending,
        "applied": [
            {
                "version": a.seq,
                "feature": a.feature,
                "name": a.name,
                "description": a.description,
                "applied_at": a.applied_at,
            }
            for a in status.applied
        ],
    }
