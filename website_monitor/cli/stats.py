"""`wm stats`: latency percentiles per URL as JSON."""

from __future__ import annotations

from typing import Any

import click

from website_monitor.cli._options import load_settings, settings_options
from website_monitor.cli._output import echo_json
from website_monitor.config import parse_range


@click.command("stats")
@click.option(
    "--url",
    "urls",
    multiple=True,
    envvar="WM_STATS_URL",
    show_envvar=True,
    help="Only this URL; repeatable.",
)
@click.option(
    "--since",
    envvar="WM_STATS_SINCE",
    show_envvar=True,
    help="From this time: ISO 8601 or an age like 1h, 7d.",
)
@click.option(
    "--until",
    envvar="WM_STATS_UNTIL",
    show_envvar=True,
    help="Before this time: ISO 8601 or an age like 1h, 7d.",
)
@click.option(
    "--by",
    type=click.Choice(["status", "location", "hour", "day"]),
    envvar="WM_STATS_BY",
    show_envvar=True,
    help="Also group by HTTP status or probing location, or per hour / day (UTC) as a time series.",
)
@click.option(
    "--source",
    type=click.Choice(["auto", "exact", "rollups"]),
    envvar="WM_STATS_SOURCE",
    show_envvar=True,
    help="Where percentiles come from: exact up to 100,000 probes, else rollups (auto).",
)
@click.option(
    "--exact",
    "source",
    flag_value="exact",
    help="Same as --source exact: percentile_cont over the raw rows, however many.",
)
@click.option(
    "--rollups",
    "source",
    flag_value="rollups",
    help="Same as --source rollups: from the rollups (within 0.5 %), however few rows.",
)
@click.option(
    "--phases",
    is_flag=True,
    default=False,
    envvar="WM_STATS_PHASES",
    show_envvar=True,
    help="Also dns/connect/tls/ttfb percentiles (exact, from the raw rows).",
)
@click.option(
    "--telemetry",
    is_flag=True,
    envvar="WM_STATS_TELEMETRY",
    show_envvar=True,
    help="Print UDP telemetry buckets instead (as wm stations does).",
)
@click.option(
    "--hits",
    "hits",
    is_flag=True,
    envvar="WM_STATS_HITS",
    show_envvar=True,
    help="Access-log hits per section (from wm tail --publish) instead of probes.",
)
@click.option("--indent", type=int, default=2, show_default=True, help="JSON indentation.")
@settings_options("store")
def command(
    urls: tuple[str, ...],
    since: str | None,
    until: str | None,
    by: str | None,
    telemetry: bool,
    hits: bool,
    source: str | None,
    phases: bool,
    indent: int,
    **kwargs: Any,
) -> None:
    """Print p50/p95/p99 response times per URL as {"stats": [...]}.

    Percentiles are PostgreSQL's percentile_cont on both backends when the
    range holds at most 100,000 probes (or with --exact); beyond that they come
    from the week and day rollups, within 0.5 % of the exact values.

    `availability` is good checks over all checks: a good check got an answer
    that met every expectation (by default a status below 400). `errors`
    counts the checks with an error kind: no answer (timeout, refused, DNS,
    TLS) or a check of their own failed (an expiring certificate, an --expect
    condition). A 404 or a 503 is an answer: it lowers availability without
    being an error.

    With --hits: {"hits": [...]} with hits, 5xx error rate and response-size
    percentiles per section; with --telemetry: UDP telemetry buckets.
    """
    if telemetry and (urls or by):
        raise click.UsageError("--telemetry takes --since/--until only, not --url or --by")
    if telemetry and hits:
        raise click.UsageError("--telemetry and --hits are different reports: give one")
    from website_monitor.probes import stats
    from website_monitor.probes.models import Stats
    from website_monitor.store import open_store

    settings = load_settings(kwargs)
    start, end = parse_range(since, until)
    query = stats.StatsQuery(
        urls=urls,
        since=start,
        until=end,
        by=by,
        source=source or "auto",
        phases=phases,
    )
    with open_store(settings.store.reading_url(), create=False) as repository:
        if hits:
            from website_monitor.logs.models import Hits
            from website_monitor.logs.queries import hit_stats

            sections = hit_stats(
                repository, since=query.since, until=query.until, source=query.source
            )
            echo_json(Hits(hits=sections), indent)
            return
        if telemetry:
            from website_monitor.telemetry.queries import telemetry_document

            echo_json(telemetry_document(repository, since=query.since, until=query.until), indent)
            return
        entries = stats.probe_stats(repository, query)
    echo_json(Stats(stats=entries), indent)
