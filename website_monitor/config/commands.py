"""The sections of single commands: `wm probe`, `wm flush`, `wm tail`, `wm listen`,
`wm serve`, `wm top`."""

from __future__ import annotations

import dataclasses

from website_monitor.config.declare import setting, without_secrets
from website_monitor.errors import ConfigError

#: Access-log formats of `wm tail` (website_monitor.logs.formats.FORMATS).
TAIL_FORMATS = ("auto", "clf", "combined", "w3c")
#: What `wm tail` windows by (website_monitor.logs.monitor.CLOCKS).
TAIL_CLOCKS = ("log", "wall")


@dataclasses.dataclass(frozen=True, repr=False)
class ProbeSettings:
    """`wm probe`: which URLs, how to judge them, how often."""

    urls: tuple[str, ...] = setting(
        (),
        "-u",
        "--url",
        env="WM_URL",
        multiple=True,
        list_of="urls",
        help="URL to check; repeatable, or several in WM_URL.",
    )
    urls_file: str | None = setting(
        None, "--urls-file", env="WM_URLS_FILE", path="file", help="File with one URL per line."
    )
    timeout: float = setting(
        "10s",
        "--timeout",
        env="WM_PROBE_TIMEOUT",
        duration=True,
        positive=True,
        maximum=3600,
        help="Per-request timeout, e.g. 10s, 500ms.",
    )
    expect_status: int | None = setting(
        None,
        "--expect-status",
        env="WM_PROBE_EXPECT_STATUS",
        minimum=100,
        maximum=999,
        help="Status a healthy response has (else any status below 400).",
    )
    expect_regex: str | None = setting(
        None, "--expect-regex", env="WM_PROBE_EXPECT_REGEX", help="Pattern a healthy body contains."
    )
    every: float | None = setting(
        None,
        "--every",
        env="WM_PROBE_EVERY",
        duration=True,
        positive=True,
        help="Probe again at this interval until stopped, e.g. 30s.",
    )
    concurrency: int = setting(
        10,
        "--concurrency",
        env="WM_PROBE_CONCURRENCY",
        minimum=1,
        maximum=1000,
        help="URLs checked at once.",
    )
    expect: tuple[str, ...] = setting(
        (),
        "--expect",
        env="WM_PROBE_EXPECT",
        multiple=True,
        list_of="lines",
        metavar="EXPR",
        help="Condition a healthy check meets, e.g. 'ttfb < 200ms'; repeatable"
        " (WM_PROBE_EXPECT: one per line). See docs/checks.md.",
    )
    expect_cert_days: float | None = setting(
        None,
        "--expect-cert-days",
        env="WM_PROBE_EXPECT_CERT_DAYS",
        minimum=0,
        maximum=36500,
        help="Fail HTTPS checks whose certificates expire in fewer days (error cert_expiring).",
    )
    location: str | None = setting(
        None,
        "--location",
        env="WM_LOCATION",
        described_default="the host name",
        help="Where the checks run, recorded on every result.",
    )

    __repr__ = without_secrets


@dataclasses.dataclass(frozen=True, repr=False)
class FlushSettings:
    """`wm flush`: consuming from Kafka into the store."""

    batch_size: int = setting(
        10_000,
        "--batch-size",
        env="WM_FLUSH_BATCH_SIZE",
        minimum=1,
        maximum=100_000,
        help="Events stored per transaction (a message holding many counts each).",
    )
    drain: bool = setting(
        False,
        "--drain/--follow",
        env="WM_FLUSH_DRAIN",
        help="Exit once caught up (for cron) instead of running until stopped.",
    )
    idle_timeout: float = setting(
        "3s",
        "--idle-timeout",
        env="WM_FLUSH_IDLE_TIMEOUT",
        duration=True,
        help="With --drain: caught up after this long without a message.",
    )
    consumer_group_id: str = setting(
        "wm-flush",
        "-c",
        "--consumer-group-id",
        env="WM_STREAM_CONSUMER_GROUP_ID",
        help="Kafka consumer group.",
    )

    __repr__ = without_secrets


@dataclasses.dataclass(frozen=True, repr=False)
class TailSettings:
    """`wm tail`: which access logs, how to window them, when to alert, where hits go.

    The library checks these further (`website_monitor.logs.monitor.TailOptions`)."""

    files: tuple[str, ...] = setting(
        (),
        env="WM_TAIL_FILES",
        argument="FILE...",
        list_of="paths",
        help="Access logs to follow; - reads standard input.",
    )
    format: str = setting(
        "auto",
        "--format",
        env="WM_TAIL_FORMAT",
        choices=TAIL_FORMATS,
        noun="log format",
        hint="use " + "|".join(TAIL_FORMATS),
        help="Log format; auto detects it from the first lines of each file.",
    )
    from_start: bool = setting(
        False,
        "--from-start/--no-from-start",
        env="WM_TAIL_FROM_START",
        help="Read files from the start.",
    )
    exit_at_eof: bool = setting(
        False,
        "--exit-at-eof/--no-exit-at-eof",
        env="WM_TAIL_EXIT_AT_EOF",
        help="Stop once everything is read and report the last windows (for cron and scripts).",
    )
    interval: float = setting(
        "10s",
        "--interval",
        env="WM_TAIL_INTERVAL",
        duration=True,
        positive=True,
        help="Summary window.",
    )
    lateness: float = setting(
        "5s",
        "--lateness",
        env="WM_TAIL_LATENESS",
        duration=True,
        help="How late a line may arrive and still count in its window (log clock).",
    )
    alert_window: float = setting(
        "120s",
        "--alert-window",
        env="WM_TAIL_ALERT_WINDOW",
        duration=True,
        positive=True,
        help="Period the alert averages the rate over.",
    )
    threshold: float = setting(
        10.0,
        "--threshold",
        env="WM_TAIL_THRESHOLD",
        positive=True,
        help="Average hits per second that triggers the alert.",
    )
    hysteresis: float = setting(
        0.1,
        "--hysteresis",
        env="WM_TAIL_HYSTERESIS",
        help="The alert recovers below threshold * (1 - hysteresis).",
    )
    clock: str = setting(
        "log",
        "--clock",
        env="WM_TAIL_CLOCK",
        choices=TAIL_CLOCKS,
        noun="clock",
        help="Window by the lines' own timestamps or by their arrival time.",
    )
    top: int = setting(
        5, "--top", env="WM_TAIL_TOP", help="Sections and endpoints listed per summary."
    )
    json: bool = setting(
        False,
        "--json/--no-json",
        env="WM_TAIL_JSON",
        help="One JSON object per summary and alert.",
    )
    alert_command: str | None = setting(
        None,
        "--alert-command",
        env="WM_TAIL_ALERT_COMMAND",
        help="Run this on each alert change (JSON on stdin, WM_ALERT_* variables).",
    )
    alert_webhook: str | None = setting(
        None,
        "--alert-webhook",
        env="WM_TAIL_ALERT_WEBHOOK",
        help="POST each alert change as JSON to this URL.",
    )
    record_alerts: bool = setting(
        True,
        "--record-alerts/--no-record-alerts",
        env="WM_TAIL_RECORD_ALERTS",
        help="Keep the alert history in the store (for wm alerts).",
    )
    publish: bool = setting(
        False,
        "--publish/--no-publish",
        env="WM_TAIL_PUBLISH",
        help="Send every hit to Kafka (topic hits, or -t) or, without -b, to the store.",
    )
    ship: str | None = setting(
        None,
        "--ship",
        env="WM_TAIL_SHIP",
        metavar="URL",
        help="Also POST the raw lines to a wm serve, e.g. http://host:8080/api/logs.",
    )
    ship_token: str | None = setting(
        None,
        "--ship-token",
        env="WM_SERVE_TOKEN",
        secret=True,
        help="Bearer token for --ship (prefer the env var).",
    )
    ship_timeout: float = setting(
        "30s",
        "--ship-timeout",
        env="WM_TAIL_SHIP_TIMEOUT",
        duration=True,
        help="At exit, how long to keep retrying lines not yet shipped.",
    )
    source: str | None = setting(
        None,
        "--source",
        env="WM_TAIL_SOURCE",
        described_default="host name",
        help="Name of the server these logs come from.",
    )
    poll_interval: float = setting(
        "250ms",
        "--poll-interval",
        env="WM_TAIL_POLL_INTERVAL",
        duration=True,
        positive=True,
        hint="e.g. 250ms",
        help="How often files are checked for new lines.",
    )
    rotate_wait: float = setting(
        "5s",
        "--rotate-wait",
        env="WM_TAIL_ROTATE_WAIT",
        duration=True,
        help="Keep reading a rotated or deleted file until it has not grown for this long.",
    )

    __repr__ = without_secrets


@dataclasses.dataclass(frozen=True, repr=False)
class ListenSettings:
    """`wm listen`: the UDP address and the buckets."""

    bind: str = setting(
        "127.0.0.1:8125",
        "--bind",
        env="WM_LISTEN_BIND",
        help="UDP address to listen on. Loopback by default; name another interface "
        "explicitly (0.0.0.0:8125 for all) to accept remote senders.",
    )
    bucket: float = setting(
        "10m",
        "--bucket",
        env="WM_LISTEN_BUCKET",
        duration=True,
        positive=True,
        help="Length of an aggregation bucket, whole seconds: 60s, 10m, 1h.",
    )
    flush_interval: float = setting(
        "10s",
        "--flush-interval",
        env="WM_LISTEN_FLUSH_INTERVAL",
        duration=True,
        positive=True,
        help="How often open buckets are published (their change since the last flush).",
    )
    report_interval: float = setting(
        "60s",
        "--report-interval",
        env="WM_LISTEN_REPORT_INTERVAL",
        duration=True,
        positive=True,
        help="How often a progress line (with bad datagrams per reason) is logged.",
    )

    receive_buffer: int = setting(
        4 * 1024 * 1024,
        "--receive-buffer",
        env="WM_LISTEN_RECEIVE_BUFFER",
        minimum=1024,
        maximum=2**31 - 1,
        help="Socket receive buffer to ask for (SO_RCVBUF), in bytes. Linux doubles it for its"
        " bookkeeping and caps it at net.core.rmem_max; the start-up line logs what was granted.",
    )

    __repr__ = without_secrets

    def check(self) -> None:
        if self.bucket != int(self.bucket):
            raise ConfigError(
                f"--bucket {f'{self.bucket:g}s'!r} is not a whole number of seconds (at least 1s)"
            )


@dataclasses.dataclass(frozen=True, repr=False)
class ServeSettings:
    """`wm serve`: the address, the token, the live updates and the ingest limits."""

    bind: str = setting(
        "127.0.0.1:8080",
        "--bind",
        env="WM_SERVE_BIND",
        help="HOST:PORT to listen on. Loopback by default; any other address must be given.",
    )
    token: str | None = setting(
        None,
        "--token",
        env="WM_SERVE_TOKEN",
        secret=True,
        help="Require 'Authorization: Bearer TOKEN' on /api/* and /metrics (prefer the env var).",
    )
    poll_interval: float = setting(
        "1s",
        "--poll-interval",
        env="WM_SERVE_POLL_INTERVAL",
        duration=True,
        minimum=0.1,
        maximum=60,
        invalid="{flag} of wm serve must be between 0.1 and 60 seconds",
        help="Time between store polls for live updates, from 100ms to 60s.",
    )
    max_body: int = setting(
        1024 * 1024,
        "--max-body",
        env="WM_SERVE_MAX_BODY",
        minimum=1024,
        help="Largest POST /api/logs body, in bytes (larger: 413).",
    )
    max_lines: int = setting(
        10_000,
        "--max-lines",
        env="WM_SERVE_MAX_LINES",
        minimum=1,
        help="Most lines in one POST /api/logs (more: 413).",
    )
    allowed_hosts: tuple[str, ...] = setting(
        (),
        "--allowed-host",
        env="WM_SERVE_ALLOWED_HOSTS",
        described_default="the listening address, and localhost on loopback",
        help="Another host name the server answers to (e.g. behind a proxy); repeatable,"
        " * for any.",
    )
    status_page: tuple[str, ...] = setting(
        (),
        "--status-page",
        env="WM_SERVE_STATUS_PAGE",
        multiple=True,
        list_of="urls",
        metavar="URL",
        help="Show this URL on the public /status page and its badges (no token needed);"
        " repeatable. Without it there is no status page.",
    )

    __repr__ = without_secrets


@dataclasses.dataclass(frozen=True, repr=False)
class TopSettings:
    """`wm top`: how often and over what window."""

    refresh: float = setting(
        "2s",
        "--refresh",
        env="WM_TOP_REFRESH",
        duration=True,
        positive=True,
        help="Time between refreshes (500ms, 2s, 1m…).",
    )
    window: float = setting(
        "1h",
        "--window",
        env="WM_TOP_WINDOW",
        duration=True,
        positive=True,
        help="Percentiles and availability over this recent window.",
    )

    __repr__ = without_secrets
