"""`wm tail`: follow access logs, print 10-second summaries and high-traffic alerts."""

from __future__ import annotations

import contextlib
import socket
import sys
from typing import Any

import click
from click.core import ParameterSource

from website_monitor import config, log
from website_monitor.cli._options import (
    common_options,
    load_settings,
    setting_option,
    store_options,
    stream_options,
)
from website_monitor.cli._signals import stop_on_signals
from website_monitor.config import parse_duration
from website_monitor.errors import ConfigError, DeliveryError
from website_monitor.logs import monitor, output
from website_monitor.logs.follower import Follower
from website_monitor.logs.formats import FORMATS
from website_monitor.logs.notify import Notifiers

logger = log.get("tail")

HITS_TOPIC = "hits"


#: Duration settings, parsed here when given as flags or in the environment.
_DURATIONS = (
    "tail_interval",
    "tail_lateness",
    "tail_alert_window",
    "tail_ship_timeout",
    "tail_poll_interval",
)


@click.command("tail")
@click.argument(
    "tail_files", nargs=-1, metavar="FILE...", envvar=list(config.envvars("tail_files"))
)
@setting_option(
    "tail_format",
    "--format",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="Log format; auto detects it from the first lines of each file.",
)
@setting_option(
    "tail_from_start", "--from-start/--no-from-start", help="Read files from the start."
)
@setting_option(
    "tail_exit_at_eof",
    "--exit-at-eof/--no-exit-at-eof",
    help="Stop once everything is read and report the last windows (for cron and scripts).",
)
@setting_option(
    "tail_interval", "--interval", default="10s", show_default=True, help="Summary window."
)
@setting_option(
    "tail_lateness",
    "--lateness",
    default="5s",
    show_default=True,
    help="How late a line may arrive and still count in its window (log clock).",
)
@setting_option(
    "tail_alert_window",
    "--alert-window",
    default="120s",
    show_default=True,
    help="Period the alert averages the rate over.",
)
@setting_option(
    "tail_threshold",
    "--threshold",
    type=float,
    default=10.0,
    show_default=True,
    help="Average hits per second that triggers the alert.",
)
@setting_option(
    "tail_hysteresis",
    "--hysteresis",
    type=float,
    default=0.1,
    show_default=True,
    help="The alert recovers below threshold * (1 - hysteresis).",
)
@setting_option(
    "tail_clock",
    "--clock",
    type=click.Choice(monitor.CLOCKS),
    default="log",
    show_default=True,
    help="Window by the lines' own timestamps or by their arrival time.",
)
@setting_option(
    "tail_top",
    "--top",
    type=int,
    default=5,
    show_default=True,
    help="Sections and endpoints listed per summary.",
)
@setting_option("tail_json", "--json/--no-json", help="One JSON object per summary and alert.")
@setting_option(
    "tail_alert_command",
    "--alert-command",
    help="Run this on each alert change (JSON on stdin, WM_ALERT_* variables).",
)
@setting_option(
    "tail_alert_webhook",
    "--alert-webhook",
    help="POST each alert change as JSON to this URL.",
)
@setting_option(
    "tail_record_alerts",
    "--record-alerts/--no-record-alerts",
    default=True,
    show_default=True,
    help="Keep the alert history in the store (for wm alerts).",
)
@setting_option(
    "tail_publish",
    "--publish/--no-publish",
    help="Send every hit to Kafka (topic hits, or -t) or, without -b, to the store.",
)
@setting_option(
    "tail_ship",
    "--ship",
    metavar="URL",
    help="Also POST the raw lines to a wm serve, e.g. http://host:8080/api/logs.",
)
@setting_option(
    "tail_ship_token", "--ship-token", help="Bearer token for --ship (prefer the env var)."
)
@setting_option(
    "tail_ship_timeout",
    "--ship-timeout",
    default="30s",
    show_default=True,
    help="At exit, how long to keep retrying lines not yet shipped.",
)
@setting_option(
    "tail_source",
    "--source",
    help="Name of the server these logs come from.  [default: host name]",
)
@setting_option(
    "tail_poll_interval",
    "--poll-interval",
    default="250ms",
    show_default=True,
    help="How often files are checked for new lines.",
)
@store_options
@stream_options
@common_options
def command(**kwargs: Any) -> None:
    """Follow access logs: a summary per window and high-traffic alerts.

    FILE is an access log (Common, Combined or W3C extended); several may be
    given, and - reads standard input. Files are followed from their end unless
    --from-start, through rotation and truncation; a missing file is waited for.
    """
    ctx = click.get_current_context()
    topic_given = ctx.get_parameter_source("topic") == ParameterSource.COMMANDLINE
    # A bad duration from a flag or WM_TAIL_* reads as it always has, without the
    # option's name; one from the config file names the file and key.
    for name in _DURATIONS:
        if ctx.get_parameter_source(name) is not ParameterSource.DEFAULT:
            kwargs[name] = parse_duration(kwargs[name])
    config_file = kwargs.get("config_file")
    settings = load_settings(kwargs)
    paths = settings.tail_files
    if not paths:
        raise ConfigError("no log file given", hint="wm tail /var/log/access.log, or - for stdin")
    options = monitor.TailOptions(
        fmt=settings.tail_format,
        interval=settings.tail_interval,
        lateness=settings.tail_lateness,
        alert_window=settings.tail_alert_window,
        threshold=settings.tail_threshold,
        hysteresis=settings.tail_hysteresis,
        clock=settings.tail_clock,
        top=settings.tail_top,
    )
    options.check()
    if settings.tail_poll_interval <= 0:
        raise ConfigError("--poll-interval must be positive", hint="e.g. 250ms")
    source = settings.tail_source or socket.gethostname()

    def open_history() -> Any:
        from website_monitor.store import open_store

        return open_store(settings.store_url())

    from website_monitor.alerts import rules

    notifiers = Notifiers(
        settings.tail_alert_command,
        settings.tail_alert_webhook,
        history=open_history if settings.tail_record_alerts else None,
        source=source,
        alerting=rules.load(config_file),  # [[alert]] rules with sources = [...]
    )
    reporter: Any
    with contextlib.ExitStack() as stack:
        if settings.tail_json:
            reporter = output.JSONReporter(click.echo)
        elif output.is_terminal(sys.stdout):
            reporter = stack.enter_context(output.LiveReporter(paths=paths))
        else:
            reporter = output.TextReporter(click.echo)
        hits = None
        if settings.tail_publish:
            from website_monitor.transport import open_publisher

            topic = settings.topic if topic_given else HITS_TOPIC
            publisher = open_publisher(settings, topic=topic)
            stack.callback(publisher.close)
            hits = monitor.HitPublisher(publisher, source)
        stack.callback(notifiers.close)
        shipper = None
        if settings.tail_ship:
            from website_monitor.logs.ship import Shipper

            shipper = Shipper(
                settings.tail_ship,
                source,
                fmt=settings.tail_format,
                token=settings.tail_ship_token or None,
            )
            ship_timeout = settings.tail_ship_timeout
            stack.callback(lambda: shipper.close(shipper.clock() + ship_timeout))
        engine = monitor.Monitor(
            options, _Fanout(reporter, notifiers), collect_hits=hits is not None
        )
        follower = stack.enter_context(Follower(list(paths), from_start=settings.tail_from_start))
        for path, reason in follower.problems():
            logger.warning("cannot read %s (%s); waiting for it", path, reason)
        stop = stack.enter_context(stop_on_signals())
        monitor.run(
            follower,
            engine,
            stop,
            exit_at_eof=settings.tail_exit_at_eof,
            poll_interval=settings.tail_poll_interval,
            publisher=hits,
            shipper=shipper,
        )
    if engine.bad and not engine.lines:
        logger.warning("%d incorrect lines and no request parsed; check --format", engine.bad)
    if shipper is not None and shipper.lost:
        raise DeliveryError(
            f"{shipper.lost} of {shipper.lost + shipper.shipped + shipper.rejected} lines"
            f" were not shipped to {settings.tail_ship}",
            hint="see the errors above",
        )
    if hits is not None and hits.failed:
        raise DeliveryError(
            f"{hits.failed} of {hits.failed + hits.published} hits were not published",
            hint="see the errors above",
        )


class _Fanout:
    """The chosen output, plus notifications and history on alerts."""

    def __init__(self, reporter: monitor.Reporter, notifiers: Notifiers) -> None:
        self.reporter = reporter
        self.notifiers = notifiers

    def summary(self, summary: Any) -> None:
        self.reporter.summary(summary)

    def alert(self, event: Any) -> None:
        self.reporter.alert(event)
        self.notifiers.alert(event)

    def bad_line(self, line: str) -> None:
        self.reporter.bad_line(line)
