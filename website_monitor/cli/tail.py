"""`wm tail`: follow access logs, print 10-second summaries and high-traffic alerts."""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from website_monitor import config
from website_monitor.cli._options import given, load_settings, settings_options
from website_monitor.errors import ConfigError, DeliveryError

if TYPE_CHECKING:
    from website_monitor.logs import monitor
    from website_monitor.logs.notify import Notifiers

HITS_TOPIC = "hits"


@click.command("tail")
@settings_options(
    "tail",
    "store",
    "stream",
    shown_defaults={"topic": HITS_TOPIC},
    helps={"topic": "Kafka topic of the hits (--publish)."},
    envvars={"topic": "WM_TAIL_TOPIC"},
)
def command(**kwargs: Any) -> None:
    """Follow access logs: a summary per window and high-traffic alerts.

    FILE is an access log (Common, Combined or W3C extended); several may be
    given, and - reads standard input. Files are followed from their end unless
    --from-start, through rotation and truncation; a missing file is waited for.
    """
    import socket

    from website_monitor import log
    from website_monitor.cli._signals import stop_on_signals
    from website_monitor.logs import monitor, output
    from website_monitor.logs.follower import Follower
    from website_monitor.logs.notify import Notifiers
    from website_monitor.logs.publish import HitPublisher

    logger = log.get("tail")
    topic_given = given("topic")
    # A bad duration from a flag or WM_TAIL_* reads as it always has, without the
    # option's name; one from the config file names the file and key.
    ctx = click.get_current_context()
    durations = [d.key for d in config.DECLARATIONS if d.section == "tail" and d.duration]
    for key in durations:
        if ctx.get_parameter_source(key) is not ParameterSource.DEFAULT:
            kwargs[key] = config.parse_duration(kwargs[key])
    config_file = kwargs.get("config_file")
    settings = load_settings(kwargs)
    tail = settings.tail
    paths = tail.files
    if not paths:
        raise ConfigError("no log file given", hint="wm tail /var/log/access.log, or - for stdin")
    options = monitor.TailOptions(
        fmt=tail.format,
        interval=tail.interval,
        lateness=tail.lateness,
        alert_window=tail.alert_window,
        threshold=tail.threshold,
        hysteresis=tail.hysteresis,
        clock=tail.clock,
        top=tail.top,
    )
    options.check()
    source = tail.source or socket.gethostname()

    def open_history() -> Any:
        from website_monitor.store import open_store

        return open_store(settings.store.effective_url())

    from website_monitor.alerts import rules

    notifiers = Notifiers(
        tail.alert_command,
        tail.alert_webhook,
        history=open_history if tail.record_alerts else None,
        source=source,
        alerting=rules.load(config_file),  # [[alert]] rules with sources = [...]
    )
    reporter: Any
    with contextlib.ExitStack() as stack:
        if tail.json:
            reporter = output.JSONReporter(click.echo)
        elif output.is_terminal(sys.stdout):
            reporter = stack.enter_context(output.LiveReporter(paths=paths))
        else:
            reporter = output.TextReporter(click.echo)
        hits = None
        if tail.publish:
            from website_monitor.transport import open_publisher
            from website_monitor.transport.background import (
                BackgroundPublisher,
                store_takes_writes_in_parallel,
            )

            topic = settings.stream.topic if topic_given else HITS_TOPIC
            publisher: Any
            if settings.stream.uses_kafka:  # the high-volume producer (librdkafka)
                from website_monitor.logs.codec import encode
                from website_monitor.transport.producer import BatchPublisher

                publisher = BatchPublisher(settings, topic, encode)  # type: ignore[arg-type]
            else:
                publisher = open_publisher(settings, topic=topic)
            batch = 1000
            if store_takes_writes_in_parallel(publisher):
                # The COPY runs in the database server while the next lines are parsed;
                # larger transactions save it round trips.
                publisher, batch = BackgroundPublisher(publisher), 10_000
            stack.callback(publisher.close)
            hits = HitPublisher(publisher, source, batch)
        stack.callback(notifiers.close)
        shipper = None
        if tail.ship:
            from website_monitor.logs.ship import Shipper

            shipper = Shipper(tail.ship, source, fmt=tail.format, token=tail.ship_token or None)
            ship_timeout = tail.ship_timeout
            stack.callback(lambda: shipper.close(shipper.clock() + ship_timeout))
        engine = monitor.Monitor(
            options, _Fanout(reporter, notifiers), collect_hits=hits is not None
        )
        follower = stack.enter_context(
            Follower(
                list(paths),
                from_start=tail.from_start,
                rotate_wait=tail.rotate_wait,
                positions=hits is not None,  # hit ids derive from where each line is
            )
        )
        monitor.check_readable(follower, exit_at_eof=tail.exit_at_eof)
        for path, reason in follower.problems():
            if tail.exit_at_eof:
                logger.warning("cannot read %s (%s); skipped", path, reason)
            else:
                logger.warning("cannot read %s (%s); waiting for it", path, reason)
        stop = stack.enter_context(stop_on_signals())
        monitor.run(
            follower,
            engine,
            stop,
            exit_at_eof=tail.exit_at_eof,
            poll_interval=tail.poll_interval,
            publisher=hits,
            shipper=shipper,
        )
    if engine.bad and not engine.lines:
        logger.warning("%d incorrect lines and no request parsed; check --format", engine.bad)
    if shipper is not None and shipper.lost:
        raise DeliveryError(
            f"{shipper.lost} of {shipper.lost + shipper.shipped + shipper.rejected} lines"
            f" were not shipped to {shipper.shown_url}",
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
