"""`wm serve`: the live dashboard, JSON API and /metrics over the store."""

from __future__ import annotations

import logging
from typing import Any

import click

from website_monitor.cli._options import load_settings, settings_options

log = logging.getLogger(__name__)


@click.command("serve")
@settings_options("serve", "store")
def command(**kwargs: Any) -> None:
    """Serve the dashboard (/), the JSON API (/api/…, described at /api/openapi.json),
    the access-log ingest (POST /api/logs), Prometheus metrics (/metrics) and, with
    --status-page, a public status page (/status) and badges (/badge/…) until
    SIGTERM or Ctrl-C."""
    import threading

    from website_monitor.alerts import rules
    from website_monitor.store import open_store
    from website_monitor.web.app import create_app
    from website_monitor.web.server import WebServer, is_loopback, listen, parse_bind

    rules.use_config_file(kwargs.get("config_file"))  # the [[slo]]s it shows
    rules.configured()  # a mistake in the file is an error now, not at the first request
    settings = load_settings(kwargs)
    serve = settings.serve
    token = serve.token or None
    host, _ = parse_bind(serve.bind)
    sock = listen(serve.bind)
    try:
        with open_store(settings.store.effective_url()) as repository:
            stopping = threading.Event()
            app = create_app(
                repository,
                token=token,
                poll_interval=serve.poll_interval,
                stopping=stopping,
                max_body=serve.max_body,
                max_lines=serve.max_lines,
                bound=host,
                allowed_hosts=serve.allowed_hosts,
                status_urls=serve.status_page,
            )
            server = WebServer(
                app,
                sock,
                stopping=stopping,
                log_level="warning" if settings.log.level.lower() == "info" else settings.log.level,
            )
            if not is_loopback(host) and not token:
                log.warning(
                    "listening on %s without --token: anyone who can reach it reads it", serve.bind
                )
            click.echo(f"wm serve: http://{server.address}/ (Ctrl-C to stop)", err=True)
            if serve.status_page:
                shown = len(serve.status_page)
                click.echo(
                    f"wm serve: public status page at http://{server.address}/status"
                    f" ({shown} URL{'s' if shown != 1 else ''}, no token needed)",
                    err=True,
                )
            server.run()
    finally:
        sock.close()
