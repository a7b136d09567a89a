"""`wm serve`: a live dashboard, a JSON API and Prometheus metrics over the store.

`api` holds the queries (no HTTP), `sections` what each kind of data adds to
the server, `app` the Starlette application, `server` the listening socket and
uvicorn, `static/` the page with its vendored charting library.
"""

from website_monitor.web.app import create_app
from website_monitor.web.server import DEFAULT_BIND, ServeError, WebServer, listen

__all__ = ["DEFAULT_BIND", "ServeError", "WebServer", "create_app", "listen"]
