"""`wm slo`: each [[slo]] of the config file: SLI, error budget and burn rates, as JSON."""

from __future__ import annotations

from typing import Any

import click

from website_monitor.cli._options import load_settings, settings_options
from website_monitor.cli._output import echo_json


@click.command("slo")
@click.option(
    "--name",
    "names",
    multiple=True,
    envvar="WM_SLO_NAME",
    show_envvar=True,
    help="Only this SLO; repeatable.",
)
@click.option("--indent", type=int, default=2, show_default=True, help="JSON indentation.")
@settings_options("store")
def command(names: tuple[str, ...], indent: int, **kwargs: Any) -> None:
    """Print each [[slo]] of the config file as {"slos": [...]}: SLI, budget, burn rates.

    Per SLO its objective, window, good and total checks, the SLI (good / total),
    the error budget left and the burn rates over 1h, 6h, 1d and 3d. Whole weeks
    and days come from the rollups, so a year is fast.
    """
    from datetime import datetime, timezone

    from website_monitor.alerts import rules, slo
    from website_monitor.alerts.models import Slos
    from website_monitor.errors import ConfigError
    from website_monitor.store import open_store

    config_file = kwargs.get("config_file")
    settings = load_settings(kwargs)
    configured = rules.load(config_file).slos
    unknown = set(names) - {s.name for s in configured}
    if unknown:
        raise ConfigError(
            f"no [[slo]] named {sorted(unknown)[0]!r}",
            hint="the [[slo]] names: " + (", ".join(s.name for s in configured) or "none"),
        )
    chosen = [s for s in configured if not names or s.name in names]
    now = datetime.now(timezone.utc)
    url = settings.store.reading_url()
    with open_store(url, create=False) as repository, repository.snapshot() as reader:
        reports = [slo.report(reader, objective, now) for objective in chosen]
    echo_json(Slos(slos=reports), indent)
