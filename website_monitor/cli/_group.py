"""The `wm` group: every command listed, none imported until it runs.

`wm --help` lists the commands with their one-line help from `COMMANDS`, and
`wm COMMAND` imports only that command's module, so a command pays for its own
imports and no other's. The library's errors become one `Error:` line with a
hint and a non-zero exit; Ctrl-C becomes exit 130 without a traceback.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import click

from website_monitor import __version__
from website_monitor.errors import WebsiteMonitorError

#: Each command: the module that defines it (as `command`), and the first paragraph of
#: its help, shown by `wm --help` (tests/test_startup.py checks they agree).
COMMANDS: Mapping[str, tuple[str, str]] = {
    "alert": (
        "website_monitor.cli.alert",
        "Evaluate the [[alert]] and [[slo]] rules against the stored checks and notify.",
    ),
    "alerts": (
        "website_monitor.cli.alerts",
        'Print past and ongoing incidents as {"alerts": [...]}: start, end, peak.',
    ),
    "db": (
        "website_monitor.cli.db",
        "Manage the store's schema (it is also upgraded automatically on first use).",
    ),
    "dlq": (
        "website_monitor.cli.dlq",
        "Dead letters: undecodable messages kept with their raw bytes and the reason.",
    ),
    "flush": ("website_monitor.cli.flush", "Consume probe results from Kafka and store them."),
    "incidents": (
        "website_monitor.cli.incidents",
        'Print incidents as {"incidents": [...]}, oldest first.',
    ),
    "listen": (
        "website_monitor.cli.listen",
        "Receive llpp and StatsD datagrams on UDP and store per-station buckets.",
    ),
    "probe": (
        "website_monitor.cli.probe",
        "Check URLs (http(s)://, tcp://host:port, dns://name) and publish the results.",
    ),
    "send": (
        "website_monitor.cli.send",
        "Send an llpp datagram: KIND is arrival, departure (with --service-ms) or status TEXT.",
    ),
    "serve": (
        "website_monitor.cli.serve",
        "Serve the dashboard (/), the JSON API (/api/…, described at /api/openapi.json), the"
        " access-log ingest (POST /api/logs) and Prometheus metrics (/metrics) until SIGTERM"
        " or Ctrl-C.",
    ),
    "slo": (
        "website_monitor.cli.slo",
        'Print each [[slo]] of the config file as {"slos": [...]}: SLI, budget, burn rates.',
    ),
    "spool": (
        "website_monitor.cli.spool",
        "Inspect and send results spooled during an outage (wm probe sends them too).",
    ),
    "stations": (
        "website_monitor.cli.stations",
        'Print current and past telemetry buckets as {"stations": [...]}.',
    ),
    "stats": (
        "website_monitor.cli.stats",
        'Print p50/p95/p99 response times per URL as {"stats": [...]}.',
    ),
    "tail": (
        "website_monitor.cli.tail",
        "Follow access logs: a summary per window and high-traffic alerts.",
    ),
    "top": (
        "website_monitor.cli.top",
        "Per URL: last status, p50/p95 and availability; hits/s per source over the last"
        " minute and open alerts; refreshed live; q quits.",
    ),
}


def error_line(exc: WebsiteMonitorError) -> str:
    """The `Error:` line's text, masked as every log record is (a receiver's answer may
    say back a secret it was sent)."""
    from website_monitor import log
    from website_monitor.store.url import mask

    line = f"{exc.message} (hint: {exc.hint})" if exc.hint else exc.message
    return mask(line, log.masked_secrets())


class LazyCommands(MutableMapping[str, click.Command]):
    """The group's commands by name: listing them imports nothing, getting one imports
    its module."""

    def __init__(self, modules: Mapping[str, str]) -> None:
        self._modules = dict(modules)
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            module = importlib.import_module(self._modules[name])
            self._loaded[name] = module.command
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command
        self._modules.setdefault(name, "")  # loaded already: never imported

    def __delitem__(self, name: str) -> None:
        del self._modules[name]
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)


class WMGroup(click.Group):
    """The commands of `COMMANDS`, loaded when used; the library's own errors reported
    without a traceback."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = LazyCommands({name: module for name, (module, _) in COMMANDS.items()})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click lists commands, from `COMMANDS` rather than from the commands."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, self._summary(name, limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _summary(self, name: str, limit: int) -> str:
        """The command's help, shortened to `limit` as click does, without importing it."""
        if name in COMMANDS:  # a bare command with the same help shortens it the same way
            return click.Command(name, help=COMMANDS[name][1]).get_short_help_str(limit)
        return self.commands[name].get_short_help_str(limit)  # added with add_command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WebsiteMonitorError as exc:
            raise click.ClickException(error_line(exc)) from None
        except KeyboardInterrupt:
            click.echo("\nAborted!", err=True)
            raise click.exceptions.Exit(130) from None


@click.group(cls=WMGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wm")
def main() -> None:
    """website-monitor: probe web services, move results through Kafka, ask the store."""
