"""POSTing JSON for the HTTP notifiers, with reasons that never show a URL's path or query.

A Slack webhook's path is its secret, and requests' own messages repeat the
whole URL, so failures are described by kind and `scheme://host:port` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from website_monitor.alerts.notifiers import NotifyError
from website_monitor.alerts.tables import Table


def where(url: str) -> str:
    """`https://hooks.example.org:443`: enough to tell receivers apart, no secret."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{parts.hostname}:{port}"


def http_url(table: Table, key: str = "url", *, default: str | None = None) -> str:
    url = table.text(key, required=default is None, default=default)
    assert url is not None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise table.error(key, "expected an http(s) URL", hint="e.g. https://hooks.example.org/wm")
    return url


def post(
    url: str,
    body: bytes,
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    accept: tuple[int, ...] = (),
) -> str:
    """POST `body` as JSON; the answer's text if its status is 2xx (or in `accept`).

    Any other status, or no answer within `timeout`, is a NotifyError.
    """
    import requests

    sent = {"Content-Type": "application/json", "User-Agent": "website-monitor"}
    sent.update(headers or {})
    try:
        response = requests.post(url, data=body, headers=sent, timeout=timeout)
    except requests.Timeout:
        raise NotifyError(f"no answer from {where(url)} within {timeout:g}s") from None
    except requests.ConnectionError:
        raise NotifyError(f"cannot connect to {where(url)}") from None
    except requests.RequestException as exc:
        raise NotifyError(f"request to {where(url)} failed ({type(exc).__name__})") from None
    if 200 <= response.status_code < 300 or response.status_code in accept:
        return response.text
    detail = " ".join(response.text.split())[:200]
    raise NotifyError(
        f"{where(url)} answered HTTP {response.status_code}" + (f": {detail}" if detail else "")
    )
