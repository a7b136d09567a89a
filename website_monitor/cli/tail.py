"""`wm tail`: follow access logs, print 10-second summaries and high-traffic alerts."""

from __future__ import annotations

import contextlib
import socket
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from website_monitor import log
from website_monitor.cli._options import (
    common_options,
    load_settings,
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
F = TypeVar("F", bound=Callable[..., Any])


def _option(*decls: str, env: str, **kwargs: Any) -> Callable[[F], F]:
    return click.option(*decls, envvar=env, show_envvar=True, **kwargs)


@click.command("tail")
@click.argument("paths", nargs=-1, metavar="FILE...", envvar="WM_TAIL_FILES")
@_option(
    "--format",
    "fmt",
    env="WM_TAIL_FORMAT",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="Log format; auto detects it from the first lines of each file.",
)
@_option("--from-start", env="WM_TAIL_FROM_START", is_flag=True, help="Read files from the start.")
@_option(
    "--exit-at-eof",
    env="WM_TAIL_EXIT_AT_EOF",
    is_flag=True,
    help="Stop once everything is read and report the last windows (for cron and scripts).",
)
@_option(
    "--interval", env="WM_TAIL_INTERVAL", default="10s", show_default=True, help="Summary window."
)
@_option(
    "--lateness",
    env="WM_TAIL_LATENESS",
    default="5s",
    show_default=True,
    help="How late a line may arrive and still count in its window (log clock).",
)
@_option(
    "--alert-window",
    env="WM_TAIL_ALERT_WINDOW",
    default="120s",
    show_default=True,
    help="Period the alert averages the rate over.",
)
@_option(
    "--threshold",
    env="WM_TAIL_THRESHOLD",
    type=float,
    default=10.0,
    show_default=True,
    help="Average hits per second that triggers the alert.",
)
@_option(
    "--hysteresis",
    env="WM_TAIL_HYSTERESIS",
    type=float,
    default=0.1,
    show_default=True,
    help="The alert recovers below threshold * (1 - hysteresis).",
)
@_option(
    "--clock",
    env="WM_TAIL_CLOCK",
    type=click.Choice(monitor.CLOCKS),
    default="log",
    show_default=True,
    help="Window by the lines' own timestamps or by their arrival time.",
)
@_option(
    "--top",
    env="WM_TAIL_TOP",
    type=int,
    default=5,
    show_default=True,
    help="Sections and endpoints listed per summary.",
)
@_option(
    "--json",
    "as_json",
    env="WM_TAIL_JSON",
    is_flag=True,
    help="One JSON object per summary and alert.",
)
@_option(
    "--alert-command",
    env="WM_TAIL_ALERT_COMMAND",
    help="Run this on each alert change (JSON on stdin, WM_ALERT_* variables).",
)
@_option(
    "--alert-webhook",
    env="WM_TAIL_ALERT_WEBHOOK",
    help="POST each alert change as JSON to this URL.",
)
@_option(
    "--record-alerts/--no-record-alerts",
    env="WM_TAIL_RECORD_ALERTS",
    default=True,
    show_default=True,
    help="Keep the alert history in the store (for wm alerts).",
)
@_option(
    "--publish",
    env="WM_TAIL_PUBLISH",
    is_flag=True,
    help="Send every hit to Kafka (topic hits, or -t) or, without -b, to the store.",
)
@_option(
    "--ship",
    env="WM_TAIL_SHIP",
    metavar="URL",
    help="Also POST the raw lines to a wm serve, e.g. http://host:8080/api/logs.",
)
@click.option(
    "--ship-token",
    envvar="WM_SERVE_TOKEN",
    show_envvar=True,
    default=None,
    help="Bearer token for --ship (prefer the env var).",
)
@_option(
    "--ship-timeout",
    env="WM_TAIL_SHIP_TIMEOUT",
    default="30s",
    show_default=True,
    help="At exit, how long to keep retrying lines not yet shipped.",
)
@_option(
    "--source",
    env="WM_TAIL_SOURCE",
    default=None,
    help="Name of the server these logs come from.  [default: host name]",
)
@_option(
    "--poll-interval",
    env="WM_TAIL_POLL_INTERVAL",
    default="250ms",
    show_default=True,
    help="How often files are checked for new lines.",
)
@store_options
@stream_options
@common_options
def command(paths: tuple[str, ...], **kwargs: Any) -> None:
    """Follow access logs: a summary per window and high-traffic alerts.

    FILE is an access log (Common, Combined or W3C extended); several may be
    given, and - reads standard input. Files are followed from their end unless
    --from-start, through rotation and truncation; a missing file is waited for.
    """
    ctx = click.get_current_context()
    topic_given = ctx.get_parameter_source("topic") == ParameterSource.COMMANDLINE
    own = {
        name: kwargs.pop(name)
        for name in list(kwargs)
        if name not in ("config_file",) and not _is_setting(name)
    }
    settings = load_settings(kwargs)
    if not paths:
        raise ConfigError("no log file given", hint="wm tail /var/log/access.log, or - for stdin")
    options = monitor.TailOptions(
        fmt=own["fmt"],
        interval=parse_duration(own["interval"]),
        lateness=parse_duration(own["lateness"]),
        alert_window=parse_duration(own["alert_window"]),
        threshold=own["threshold"],
        hysteresis=own["hysteresis"],
        clock=own["clock"],
        top=own["top"],
    )
    options.check()
    poll_interval = parse_duration(own["poll_interval"])
    if poll_interval <= 0:
        raise ConfigError("--poll-interval must be positive", hint="e.g. 250ms")
    source = own["source"] or socket.gethostname()

    def open_history() -> Any:
        from website_monitor.store import open_store

        return open_store(settings.store_url())

    notifiers = Notifiers(
        own["alert_command"],
        own["alert_webhook"],
        history=open_history if own["record_alerts"] else None,
        source=source,
    )
    reporter: Any
    with contextlib.ExitStack() as stack:
        if own["as_json"]:
            reporter = output.JSONReporter(click.echo)
        elif output.is_terminal(sys.stdout):
            reporter = stack.enter_context(output.LiveReporter(paths=paths))
        else:
            reporter = output.TextReporter(click.echo)
        hits = None
        if own["publish"]:
            from website_monitor.transport import open_publisher

            topic = settings.topic if topic_given else HITS_TOPIC
            publisher = open_publisher(settings, topic=topic)
            stack.callback(publisher.close)
            hits = monitor.HitPublisher(publisher, source)
        stack.callback(notifiers.close)
        shipper = None
        if own["ship"]:
            from website_monitor.logs.ship import Shipper

            shipper = Shipper(own["ship"], source, fmt=own["fmt"], token=own["ship_token"] or None)
            ship_timeout = parse_duration(own["ship_timeout"])
            stack.callback(lambda: shipper.close(shipper.clock() + ship_timeout))
        engine = monitor.Monitor(
            options, _Fanout(reporter, notifiers), collect_hits=hits is not None
        )
        follower = stack.enter_context(Follower(list(paths), from_start=own["from_start"]))
        for path, reason in follower.problems():
            logger.warning("cannot read %s (%s); waiting for it", path, reason)
        stop = stack.enter_context(stop_on_signals())
        monitor.run(
            follower,
            engine,
            stop,
            exit_at_eof=own["exit_at_eof"],
            poll_interval=poll_interval,
            publisher=hits,
            shipper=shipper,
        )
    if engine.bad and not engine.lines:
        logger.warning("%d incorrect lines and no request parsed; check --format", engine.bad)
    if shipper is not None and shipper.lost:
        raise DeliveryError(
            f"{shipper.lost} of {shipper.lost + shipper.shipped + shipper.rejected} lines"
            f" were not shipped to {own['ship']}",
            hint="see the errors above",
        )
    if hits is not None and hits.failed:
        raise DeliveryError(
            f"{hits.failed} of {hits.failed + hits.published} hits were not published",
            hint="see the errors above",
        )


def _is_setting(name: str) -> bool:
    from website_monitor import config

    return name in config.FIELDS


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
