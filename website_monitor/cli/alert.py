"""`wm alert`: evaluate the alerting rules against the store and send notifications.

`wm alert` runs until SIGTERM/Ctrl-C (`--every`), or once with `--once` (cron);
`wm alert test NOTIFIER` sends a test notification; `wm alert silence URL --for 1h`
holds back the notifications of a URL for a while.
"""

from __future__ import annotations

from typing import Any

import click

from website_monitor.cli._options import load_settings, settings_options
from website_monitor.cli._output import echo_json


def _alerting(kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """The settings and the alerting tables of the config file, checked as a whole."""
    from website_monitor.alerts import rules

    config_file = kwargs.get("config_file")
    settings = load_settings(kwargs)
    return settings, rules.load(config_file)


def _inherit(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Options given before the subcommand (`wm alert -d … test ops`) count too."""
    parent = click.get_current_context().parent
    if parent is not None:
        for name, value in parent.params.items():
            if kwargs.get(name) is None and value is not None and name in kwargs:
                kwargs[name] = value
    return kwargs


@click.group("alert", invoke_without_command=True)
@click.option(
    "--every",
    "period",
    default="10s",
    show_default=True,
    envvar="WM_ALERT_EVERY",
    show_envvar=True,
    help="Time between evaluations of the rules.",
)
@click.option(
    "--once",
    is_flag=True,
    envvar="WM_ALERT_ONCE",
    show_envvar=True,
    help="Evaluate once, send what is due and exit (cron).",
)
@click.option(
    "--lateness",
    default="0s",
    show_default=True,
    envvar="WM_ALERT_LATENESS",
    show_envvar=True,
    help="Hold back checks this recent, so that a slower host's older checks take their"
    " place in the order (several probing hosts: their --timeout plus the flush delay).",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(1),
    default=10,
    show_default=True,
    envvar="WM_ALERT_MAX_ATTEMPTS",
    show_envvar=True,
    help="Delivery attempts per notification (backoff 1s doubling to 5m) before giving up.",
)
@settings_options("store")
def command(period: str, once: bool, lateness: str, max_attempts: int, **kwargs: Any) -> None:
    """Evaluate the [[alert]] and [[slo]] rules against the stored checks and notify.

    Incidents are opened and resolved from the checks, and their notifications sent.

    Incidents open after failure_threshold consecutive failed checks of a URL and
    resolve after success_threshold good ones; SLO burn-rate incidents follow the
    multi-window policy (14.4x over 1h and 5m, 6x over 6h and 30m, 1x over 3d and 6h).
    Several wm alert may run on one store: each transition is sent once.
    """
    if click.get_current_context().invoked_subcommand is not None:
        return
    from website_monitor.alerts import rules, service
    from website_monitor.cli._signals import stop_on_signals
    from website_monitor.errors import ConfigError, DeliveryError
    from website_monitor.store import open_store

    every = _duration("--every", period)
    held = _duration("--lateness", lateness, positive=False)
    settings, alerting = _alerting(kwargs)
    if not alerting.alerts and not alerting.slos:
        raise ConfigError(
            "no [[alert]] or [[slo]] to evaluate",
            hint="add them to the config file (--config, WM_CONFIG); see docs/alerting.md",
        )
    rules.check_ready(alerting.notifiers.values())
    with open_store(settings.store.effective_url()) as repository, stop_on_signals() as stop:
        totals = service.run(
            repository,
            alerting,
            every=every,
            once=once,
            lateness=held,
            max_attempts=max_attempts,
            stop=stop,
        )
    if once and totals.failed:
        raise DeliveryError(
            f"{totals.failed} notification attempts failed",
            hint="see the errors above; the next wm alert retries them",
        )


def _duration(flag: str, value: str, *, positive: bool = True) -> float:
    from website_monitor.config import parse_duration
    from website_monitor.errors import ConfigError

    try:
        seconds = parse_duration(value)
    except ConfigError as exc:
        raise ConfigError(f"{flag}: {exc.message}", hint=exc.hint) from None
    if positive and seconds <= 0:
        raise ConfigError(f"{flag} must be positive")
    return seconds


@command.command("test")
@click.argument("notifier")
@settings_options("store")
def test_command(notifier: str, **kwargs: Any) -> None:
    """Send a test notification through NOTIFIER (a [[notifier]] name) and wait for it."""
    from website_monitor.alerts import rules, testing
    from website_monitor.alerts.notifiers import NotifyError
    from website_monitor.errors import ConfigError, DeliveryError

    _, alerting = _alerting(_inherit(kwargs))
    if notifier not in alerting.notifiers:
        known = ", ".join(sorted(alerting.notifiers)) or "none is defined"
        raise ConfigError(f"unknown notifier {notifier!r}", hint=f"the [[notifier]] names: {known}")
    chosen = alerting.notifiers[notifier]
    rules.check_ready([chosen])
    try:
        result = testing.send_test(chosen)
    except NotifyError as exc:
        raise DeliveryError(
            f"notifier {notifier!r} did not accept the test: {exc.reason}"
        ) from None
    echo_json(result)


@command.command("silence")
@click.argument("url")
@click.option(
    "--for",
    "duration",
    required=True,
    envvar="WM_ALERT_SILENCE_FOR",
    show_envvar=True,
    help="How long, e.g. 30m, 2h (0 lifts the URL's silences).",
)
@click.option(
    "--reason", envvar="WM_ALERT_SILENCE_REASON", show_envvar=True, help="Why (kept with it)."
)
@settings_options("store")
def silence_command(url: str, duration: str, reason: str | None, **kwargs: Any) -> None:
    """Hold back the notifications of URL for a while; incidents are still recorded."""
    from website_monitor.alerts import silences
    from website_monitor.store import open_store

    seconds = _duration("--for", duration, positive=False)
    settings = load_settings(_inherit(kwargs))
    with open_store(settings.store.effective_url()) as repository:
        echo_json(silences.silence(repository, url, seconds, reason))
