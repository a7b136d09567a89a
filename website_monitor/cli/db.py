"""`wm db`: schema status and upgrades."""

from __future__ import annotations

import json
from typing import Any

import click

from website_monitor.cli._options import common_options, load_settings, store_options
from website_monitor.config import redact
from website_monitor.rollups import pending, rolled_up_to
from website_monitor.store import SchemaStatus, open_store

#: The schema version from which rollups record how far they go.
ROLLUP_STATE_VERSION = 5


@click.group("db")
def command() -> None:
    """Manage the store's schema (it is also upgraded automatically on first use)."""


@command.command("upgrade")
@store_options
@common_options
def upgrade(**kwargs: Any) -> None:
    """Apply every pending migration."""
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
    settings = load_settings(kwargs)
    with open_store(settings.store_url(), migrate=False) as repository:
        current = repository.schema_status()
        shown = _as_json(current, redact(settings.store_url()))
        if current.current >= ROLLUP_STATE_VERSION:
            shown["rollups"] = {
                "rolled_up_to": rolled_up_to(repository),
                "pending_probes": pending(repository),
            }
    click.echo(json.dumps(shown, indent=2))


@command.command("rebuild-rollups")
@store_options
@common_options
def rebuild_rollups(**kwargs: Any) -> None:
    """Recompute the latency rollups from the raw probe rows."""
    from website_monitor.rollups import rebuild

    settings = load_settings(kwargs)
    with open_store(settings.store_url()) as repository:
        counts = rebuild(repository)
    click.echo(json.dumps({"store": redact(settings.store_url()), **counts}, indent=2))


def _as_json(status: SchemaStatus, store: str) -> dict[str, Any]:
    return {
        "store": store,
        "backend": status.backend,
        "version": status.current,
        "latest": status.latest,
        "pending": status.pending,
        "applied": [
            {"version": v, "description": d, "applied_at": str(at)} for v, d, at in status.applied
        ],
    }
