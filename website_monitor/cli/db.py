"""`wm db`: schema status and upgrades."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from website_monitor.cli._options import load_settings, settings_options
from website_monitor.cli._output import echo_json

if TYPE_CHECKING:
    from website_monitor.store import SchemaStatus


@click.group("db")
def command() -> None:
    """Manage the store's schema (it is also upgraded automatically on first use)."""


@command.command("upgrade")
@settings_options("store")
def upgrade(**kwargs: Any) -> None:
    """Apply every pending migration."""
    from website_monitor.store import open_store
    from website_monitor.store.url import redact

    settings = load_settings(kwargs)
    url = settings.store.effective_url()
    with open_store(url, migrate=False) as repository:
        before = repository.schema_status().current
        status = repository.migrate()
    click.echo(
        f"{redact(url)}: schema version {before} -> {status.current}"
        if status.current != before
        else f"{redact(url)}: schema is up to date (version {status.current})"
    )


@command.command("status")
@settings_options("store")
def status(**kwargs: Any) -> None:
    """Show where the store is, its schema, how far the rollups go, the raw rows kept, and
    every table's rows and size, as JSON. An embedded store that does not exist yet is shown
    as such ("exists": false), and not created."""
    from pathlib import Path

    from website_monitor import housekeeping
    from website_monitor.probes import rollups
    from website_monitor.store import open_store
    from website_monitor.store.url import StoreURL, redact

    settings = load_settings(kwargs)
    url = settings.store.effective_url()
    parsed = StoreURL.parse(url)
    exists = not (
        parsed.backend == "sqlite"
        and parsed.sqlite_path != ":memory:"
        and not Path(parsed.sqlite_path).expanduser().exists()
    )
    with open_store(url if exists else "sqlite:///:memory:", migrate=False) as repository:
        current = repository.schema_status()
        shown = {**_as_json(current, redact(url)), "exists": exists}
        if not current.waiting:
            shown["rollups"] = {
                "rolled_up_to": rollups.rolled_up_to(repository),
                "pending_probes": rollups.pending(repository),
            }
            shown["raw"] = housekeeping.raw_status(repository)
        shown["tables"] = housekeeping.table_sizes(repository)
    echo_json(shown)


@command.command("rebuild-rollups")
@settings_options("store")
def rebuild_rollups(**kwargs: Any) -> None:
    """Recompute the rollups (and what the catch-ups keep) from the raw rows."""
    from website_monitor import housekeeping
    from website_monitor.store import open_store
    from website_monitor.store.url import redact

    settings = load_settings(kwargs)
    with open_store(settings.store.effective_url()) as repository:
        counts = housekeeping.rebuild(repository)
    echo_json({"store": redact(settings.store.effective_url()), **counts})


@command.command("prune")
@settings_options("retention", "store")
def prune(**kwargs: Any) -> None:
    """Delete old raw rows (after their rollups are caught up) and old dead letters.

    Ranges before the raw rows kept are then answered from the rollups, at whole
    days. With keep_raw in the configuration, wm flush and the embedded writer
    prune once a day.
    """
    from website_monitor import housekeeping
    from website_monitor.errors import ConfigError
    from website_monitor.store import open_store
    from website_monitor.store.url import redact

    settings = load_settings(kwargs)
    keep = settings.retention
    if keep.keep_raw is None and keep.keep_dead_letters is None:
        raise ConfigError(
            "nothing to prune", hint="give --keep-raw 90d and/or --keep-dead-letters 30d"
        )
    with open_store(settings.store.effective_url()) as repository:
        done = housekeeping.prune(repository, keep.keep_raw, keep.keep_dead_letters)
    echo_json({"store": redact(settings.store.effective_url()), **done})


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
