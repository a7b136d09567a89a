"""`wm probe`: check URLs (HTTP, TCP, DNS) and publish the results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from website_monitor.cli._options import (
    common_options,
    load_settings,
    setting_option,
    store_options,
    stream_options,
)
from website_monitor.cli._signals import stop_on_signals
from website_monitor.config import split_list


class Expressions(click.types.StringParamType):
    """An `--expect` condition; in WM_PROBE_EXPECT one per line (they hold spaces)."""

    name = "EXPR"
    envvar_list_splitter = "\n"


if TYPE_CHECKING:
    from website_monitor.errors import DeliveryError
    from website_monitor.probes.codec import ProbeResult


@click.command("probe")
@click.argument("url_args", metavar="[URL]...", nargs=-1)
@setting_option(
    "urls", "-u", "--url", multiple=True, help="URL to check; repeatable, or several in WM_URL."
)
@setting_option(
    "urls_file",
    "--urls-file",
    type=click.Path(exists=True, dir_okay=False),
    help="File with one URL per line.",
)
@setting_option(
    "timeout", "--timeout", help="Per-request timeout, e.g. 10s, 500ms.  [default: 10s]"
)
@setting_option(
    "expect_status",
    "--expect-status",
    type=click.IntRange(100, 999),
    help="Status a healthy response has (else any status below 400).",
)
@setting_option("expect_regex", "--expect-regex", help="Pattern a healthy body contains.")
@setting_option(
    "expect",
    "--expect",
    type=Expressions(),
    multiple=True,
    help="Condition a healthy check meets, e.g. 'ttfb < 200ms'; repeatable "
    "(WM_PROBE_EXPECT: one per line). See docs/checks.md.",
)
@setting_option(
    "expect_cert_days",
    "--expect-cert-days",
    type=click.FloatRange(0, 36500),
    help="Fail HTTPS checks whose certificates expire in fewer days (error cert_expiring).",
)
@setting_option(
    "location",
    "--location",
    help="Where the checks run, recorded on every result.  [default: the host name]",
)
@setting_option("every", "--every", help="Probe again at this interval until stopped, e.g. 30s.")
@setting_option(
    "concurrency",
    "--concurrency",
    type=click.IntRange(1, 1000),
    help="URLs checked at once.  [default: 10]",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    envvar="WM_PROBE_JSON",
    show_envvar=True,
    help="Print each result as a JSON line.",
)
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    envvar="WM_PROBE_QUIET",
    show_envvar=True,
    help="Print nothing on success.",
)
@store_options
@stream_options
@common_options
def command(url_args: tuple[str, ...], as_json: bool, quiet: bool, **kwargs: Any) -> None:
    """Check URLs (http(s)://, tcp://host:port, dns://name) and publish the results.

    With a bootstrap server the results go to Kafka (for `wm flush`); without
    one they are written to the store directly. Exits non-zero if any result
    could not be published or stored, not because a site is down.
    """
    import socket

    from website_monitor.probes import check as probe
    from website_monitor.probes.conditions import parse_all
    from website_monitor.transport import open_spooling_publisher

    kwargs["urls"] = split_list([*url_args, *(kwargs["urls"] or ())], urls=True)
    settings = load_settings(kwargs)
    urls = probe.collect_urls(settings.urls, settings.urls_file)
    options = probe.CheckOptions(
        timeout=settings.timeout,
        expect_status=settings.expect_status,
        expect_regex=probe.compile_regex(settings.expect_regex),
        expect_cert_days=settings.expect_cert_days,
        conditions=parse_all(settings.expect),
        location=settings.location or socket.gethostname(),
    )

    def report(outcome: probe.RoundOutcome) -> None:
        if not quiet:
            for result in outcome.results:
                click.echo(_json_line(result) if as_json else _text_line(result))
        if outcome.error is not None:
            click.echo(f"Error: {_describe(outcome.error)}", err=True)

    publisher = open_spooling_publisher(settings)
    try:
        with probe.Prober(options, settings.concurrency) as prober, stop_on_signals() as stop:
            failed = probe.run_rounds(
                prober, publisher, urls, every=settings.every, stop=stop, on_round=report
            )
    finally:
        publisher.close()
    if failed:
        raise SystemExit(1)


def _describe(error: DeliveryError) -> str:
    return f"{error.message} (hint: {error.hint})" if error.hint else error.message


def _json_line(result: ProbeResult) -> str:
    from website_monitor.codec import encode

    return encode(result).decode()


def _text_line(result: ProbeResult) -> str:
    status = "-" if result.http_status_code is None else str(result.http_status_code)
    if result.response_time_ms is None:
        return f"{'ERR':>4} {result.error:>10}  {result.url}  ({result.error_detail})"
    line = f"{status:>4} {result.response_time_ms:>8.1f} ms  {result.url}"
    if result.error:
        return f"{line}  ({result.error}: {result.error_detail})"
    return line if result.ok else f"{line}  (unhealthy)"
