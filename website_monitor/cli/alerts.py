"""`wm alerts`: the history of high-traffic alerts raised by `wm tail`, as JSON."""

from __future__ import annotations

from typing import Any

import click

from website_monitor.cli._options import load_settings, settings_options
from website_monitor.cli._output import echo_json


@click.command("alerts")
@click.option(
    "--source",
    envvar="WM_ALERTS_SOURCE",
    show_envvar=True,
    help="Only alerts of this source (wm tail --source).",
)
@click.option("--indent", type=int, default=2, show_default=True, help="JSON indentation.")
@settings_options("store")
def command(source: str | None, indent: int, **kwargs: Any) -> None:
    """Print past and ongoing incidents as {"alerts": [...]}: start, end, peak.

    `ended_at` is null while an alert is active; `peak` is the highest average
    hits per second seen during the incident.
    """
    from website_monitor.logs.models import Alerts
    from website_monitor.logs.queries import list_alerts
    from website_monitor.store import open_store

    settings = load_settings(kwargs)
    with open_store(settings.store.reading_url(), create=False) as repository:
        incidents = list_alerts(repository, source=source)
    echo_json(Alerts(alerts=incidents), indent)
