"""`wm probe`: check URLs (HTTP, TCP, DNS) and publish the results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from website_monitor.cli._options import load_settings, settings_options
from website_monitor.config import split_list

if TYPE_CHECKING:
    from website_monitor.errors import DeliveryError
    from website_monitor.probes.codec import ProbeResult


@click.command("probe")
@click.argument("url_args", metavar="[URL]...", nargs=-1)
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
@settings_options("probe", "store", "stream")
def command(url_args: tuple[str, ...], as_json: bool, quiet: bool, **kwargs: Any) -> None:
    """Check URLs (http(s)://, tcp://host:port, dns://name) and publish the results.

    With a bootstrap server the results go to Kafka (for `wm flush`); without
    one they are written to the store directly. Exits non-zero if any result
    could not be published or stored, not because a site is down.
    """
    import socket

    from website_monitor.cli._signals import stop_on_signals
    from website_monitor.probes import check as probe
    from website_monitor.probes.conditions import parse_all
    from website_monitor.transport import open_spooling_publisher

    urls_given = split_list([*url_args, *(kwargs["urls"] or ())], urls=True)
    settings = load_settings(kwargs, explicit={"urls": urls_given})
    urls = probe.collect_urls(settings.probe.urls, settings.probe.urls_file)
    options = probe.CheckOptions(
        timeout=settings.probe.timeout,
        expect_status=settings.probe.expect_status,
        expect_regex=probe.compile_regex(settings.probe.expect_regex),
        expect_cert_days=settings.probe.expect_cert_days,
        conditions=parse_all(settings.probe.expect),
        location=settings.probe.location or socket.gethostname(),
    )

    def report(outcome: probe.RoundOutcome) -> None:
        if not quiet:
            for result in outcome.results:
                click.echo(_json_line(result) if as_json else _text_line(result))
        if outcome.error is not None:
            click.echo(f"Error: {_describe(outcome.error)}", err=True)

    publisher = open_spooling_publisher(settings)
    try:
        with probe.Prober(options, settings.probe.concurrency) as prober, stop_on_signals() as stop:
            failed = probe.run_rounds(
                prober, publisher, urls, every=settings.probe.every, stop=stop, on_round=report
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
