"""A real `wm serve` app on an ephemeral loopback port, and the probe data the tests store."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import requests

from website_monitor.probes.codec import ProbeResult
from website_monitor.store import open_store
from website_monitor.transport.writer import store_events
from website_monitor.web.app import create_app
from website_monitor.web.server import WebServer, listen


@dataclass
class Served:
    base: str
    store_url: str
    token: str | None

    def get(
        self, path: str, headers: dict[str, str] | None = None, **kwargs: object
    ) -> requests.Response:
        sent = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        sent.update(headers or {})
        return requests.get(self.base + path, headers=sent, timeout=10, **kwargs)  # type: ignore[arg-type]


def wait_until_answering(base: str, token: str | None = None, timeout: float = 15.0) -> None:
    """Poll /api/stats until it answers 200."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            response = requests.get(base + "/api/stats", headers=headers, timeout=2)
            if response.status_code == 200:
                return
            last = response.status_code
        except requests.ConnectionError as exc:
            last = exc
        time.sleep(0.05)
    raise AssertionError(f"wm serve at {base} never answered /api/stats: {last}")


@contextlib.contextmanager
def serving(
    store_url: str,
    token: str | None = None,
    poll_interval: float = 0.3,
    bind: str = "127.0.0.1:0",
    status_urls: Sequence[str] = (),
    **options: Any,
) -> Iterator[Served]:
    """The real app, served by uvicorn in a thread on 127.0.0.1:<ephemeral>."""
    repository = open_store(store_url)
    sock = listen(bind)
    stopping = threading.Event()
    app = create_app(
        repository,
        token=token,
        poll_interval=poll_interval,
        stopping=stopping,
        status_urls=status_urls,
        **options,
    )
    server = WebServer(app, sock, stopping=stopping)
    server.start()
    base = f"http://{server.address}"
    try:
        wait_until_answering(base, token)
        yield Served(base, store_url, token)
    finally:
        server.stop()
        repository.close()


URLS = ("https://alpha.example/health", "https://beta.example/")


def sample_probes(now: datetime | None = None) -> list[ProbeResult]:
    """Probes over the last 10 minutes: two URLs, varied latencies, some failures and phases."""
    now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    start = now - timedelta(minutes=10)
    probes = []
    for i in range(120):
        url = URLS[i % 2]
        timestamp = start + timedelta(seconds=5 * i + 1)
        if i % 9 == 4 or i == 118:  # alpha ends failing
            probes.append(
                ProbeResult(
                    url, timestamp, None, None, error="timeout", error_detail="read timed out"
                )
            )
            continue
        status = 503 if i % 17 == 3 else 200
        total = 20.0 + (i * 37) % 400 + (0.5 if url == URLS[1] else 0.0)
        probes.append(
            ProbeResult(
                url,
                timestamp,
                status,
                total,
                dns_ms=1.0 + i % 3 if i % 4 == 0 else None,
                connect_ms=4.0 + i % 5 if i % 4 == 0 else None,
                tls_ms=12.0 + i if i % 4 == 0 else None,
                ttfb_ms=total * 0.8,
            )
        )
    return probes


def write(store_url: str, probes: list[ProbeResult]) -> None:
    with open_store(store_url) as repository:
        store_events(repository, probes)
