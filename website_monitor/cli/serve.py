"""`wm serve`: the live dashboard, JSON API and /metrics over the store."""

from __future__ import annotations

import logging
import threading
from typing import Any

import click

from website_monitor.cli._options import (
    common_options,
    load_settings,
    setting_option,
    store_options,
)

log = logging.getLogger(__name__)


@click.command("serve")
@setting_option(
    "serve_bind",
    "--bind",
    default="127.0.0.1:8080",
    show_default=True,
    help="HOST:PORT to listen on. Loopback by default; any other address must be given.",
)
@setting_option(
    "serve_token",
    "--token",
    help="Require 'Authorization: Bearer TOKEN' on /api/* and /metrics (prefer the env var).",
)
@setting_option(
    "serve_poll_interval",
    "--poll-interval",
    type=click.FloatRange(0.1, 60),
    default=1.0,
    show_default=True,
    help="Seconds between store polls for live updates.",
)
@setting_option(
    "serve_max_body",
    "--max-body",
    type=click.IntRange(1024),
    default=1024 * 1024,
    show_default=True,
    help="Largest POST /api/logs body, in bytes (larger: 413).",
)
@setting_option(
    "serve_max_lines",
    "--max-lines",
    type=click.IntRange(1),
    default=10_000,
    show_default=True,
    help="Most lines in one POST /api/logs (more: 413).",
)
@store_options
@common_options
def command(**kwargs: Any) -> None:
    """Serve the dashboard (/), the JSON API (/api/…, described at /api/openapi.json),
    the access-log ingest (POST /api/logs) and Prometheus metrics (/metrics) until
    SIGTERM or Ctrl-C."""
    from website_monitor.alerts import rules
    from website_monitor.store import open_store
    from website_monitor.web.app import create_app
    from website_monitor.web.server import WebServer, is_loopback, listen, parse_bind

    rules.use_config_file(kwargs.get("config_file"))  # the [[slo]]s it shows
    rules.configured()  # a mistake in the file is an error now, not at the first request
    settings = load_settings(kwargs)
    bind = settings.serve_bind
    token = settings.serve_token or None
    host, _ = parse_bind(bind)
    sock = listen(bind)
    try:
        with open_store(settings.store_url()) as repository:
            stopping = threading.Event()
            app = create_app(
                repository,
                token=token,
                poll_interval=settings.serve_poll_interval,
                stopping=stopping,
                max_body=settings.serve_max_body,
                max_lines=settings.serve_max_lines,
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
