"""`wm serve`: the live dashboard, JSON API and /metrics over the store."""

from __future__ import annotations

import logging
import threading
from typing import Any

import click

from website_monitor.cli._options import common_options, load_settings, store_options
from website_monitor.store import open_store
from website_monitor.web import DEFAULT_BIND, WebServer, create_app, ingest, listen
from website_monitor.web.server import is_loopback, parse_bind

log = logging.getLogger(__name__)


@click.command("serve")
@click.option(
    "--bind",
    envvar="WM_SERVE_BIND",
    show_envvar=True,
    default=DEFAULT_BIND,
    show_default=True,
    help="HOST:PORT to listen on. Loopback by default; any other address must be given.",
)
@click.option(
    "--token",
    envvar="WM_SERVE_TOKEN",
    show_envvar=True,
    default=None,
    help="Require 'Authorization: Bearer TOKEN' on /api/* and /metrics (prefer the env var).",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(0.1, 60),
    default=1.0,
    show_default=True,
    envvar="WM_SERVE_POLL_INTERVAL",
    show_envvar=True,
    help="Seconds between store polls for live updates.",
)
@click.option(
    "--max-body",
    type=click.IntRange(1024),
    default=ingest.MAX_BODY,
    show_default=True,
    envvar="WM_SERVE_MAX_BODY",
    show_envvar=True,
    help="Largest POST /api/logs body, in bytes (larger: 413).",
)
@click.option(
    "--max-lines",
    type=click.IntRange(1),
    default=ingest.MAX_LINES,
    show_default=True,
    envvar="WM_SERVE_MAX_LINES",
    show_envvar=True,
    help="Most lines in one POST /api/logs (more: 413).",
)
@store_options
@common_options
def command(
    bind: str,
    token: str | None,
    poll_interval: float,
    max_body: int,
    max_lines: int,
    **kwargs: Any,
) -> None:
    """Serve the dashboard (/), the JSON API (/api/…, described at /api/openapi.json),
    the access-log ingest (POST /api/logs) and Prometheus metrics (/metrics) until
    SIGTERM or Ctrl-C."""
    settings = load_settings(kwargs)
    host, _ = parse_bind(bind)
    sock = listen(bind)
    try:
        with open_store(settings.store_url()) as repository:
            stopping = threading.Event()
            app = create_app(
                repository,
                token=token or None,
                poll_interval=poll_interval,
                stopping=stopping,
                max_body=max_body,
                max_lines=max_lines,
            )
            server = WebServer(
                app,
                sock,
                stopping=stopping,
                log_level="warning" if settings.log_level.lower() == "info" else settings.log_level,
            )
            if not is_loopback(host) and not token:
                log.warning(
                    "listening on %s without --token: anyone who can reach it reads it", bind
                )
            click.echo(f"wm serve: http://{server.address}/ (Ctrl-C to stop)", err=True)
            server.run()
    finally:
        sock.close()
