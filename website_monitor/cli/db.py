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
    """Show the schema version and pending migrations as JSON."""
    from website_monitor.probes.rollups.maintain import pending, rolled_up_to
    from website_monitor.store import open_store
    from website_monitor.store.url import redact

    settings = load_settings(kwargs)
    with open_store(settings.store.effective_url(), migrate=False) as repository:
        current = repository.schema_status()
        shown = _as_json(current, redact(settings.store.effective_url()))
        if ("probes", "0003_rollup_state") not in current.waiting:
            shown["rollups"] = {
                "rolled_up_to": rolled_up_to(repository),
                "pending_probes": pending(repository),
            }
    echo_json(shown)


@command.command("rebuild-rollups")
@settings_options("store")
def rebuild_rollups(**kwargs: Any) -> None:
    """Recompute the latency rollups from the raw probe rows."""
    from website_monitor.probes.rollups.maintain import rebuild
    from website_monitor.store import open_store
    from website_monitor.store.url import redact

    settings = load_settings(kwargs)
    with open_store(settings.store.effective_url()) as repository:
        counts = rebuild(repository)
    echo_json({"store": redact(settings.store.effective_url()), **counts})


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
