"""`wm incidents`: incidents (down, latency, SLO burn, high traffic) with their notifications."""

from __future__ import annotations

from typing import Any

import click

from website_monitor.cli._options import load_settings, settings_options
from website_monitor.cli._output import echo_json


@click.command("incidents")
@click.option(
    "--since",
    envvar="WM_INCIDENTS_SINCE",
    show_envvar=True,
    help="Only incidents open at any time since then: ISO 8601 or an age like 1h, 7d.",
)
@click.option(
    "--state",
    type=click.Choice(["open", "resolved"]),
    envvar="WM_INCIDENTS_STATE",
    show_envvar=True,
    help="Only open or only resolved incidents.",
)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(["down", "latency", "slo_burn", "traffic"]),
    envvar="WM_INCIDENTS_KIND",
    show_envvar=True,
    help="Only this kind; repeatable.",
)
@click.option(
    "--url",
    "urls",
    multiple=True,
    envvar="WM_INCIDENTS_URL",
    show_envvar=True,
    help="Only this URL; repeatable.",
)
@click.option("--indent", type=int, default=2, show_default=True, help="JSON indentation.")
@settings_options("store")
def command(
    since: str | None,
    state: str | None,
    kinds: tuple[str, ...],
    urls: tuple[str, ...],
    indent: int,
    **kwargs: Any,
) -> None:
    """Print incidents as {"incidents": [...]}, oldest first.

    Each has its id, alert, url, kind (down, latency, slo_burn, traffic), state
    (open, resolved), started_at, resolved_at, failures, last_error, and the
    notifications of its transitions with their delivery state (sent, pending,
    failed after the retries, suppressed by maintenance or a silence).
    """
    from website_monitor.alerts.models import Incidents
    from website_monitor.alerts.queries import list_incidents
    from website_monitor.config import parse_time
    from website_monitor.store import open_store

    settings = load_settings(kwargs)
    with open_store(settings.store.reading_url(), create=False) as repository:
        found = list_incidents(
            repository,
            since=parse_time(since) if since else None,
            state=state,
            kinds=kinds,
            urls=urls,
        )
    echo_json(Incidents(incidents=found), indent)
