"""Real parts for the alerting tests: receivers that record what they are sent, a site that
fails and recovers on a script, checks written through the store's own writer, the CLI."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from tests.services import wait_until
from website_monitor.cli import main
from website_monitor.probes.codec import ProbeResult
from website_monitor.store import open_store
from website_monitor.transport.writer import store_events

URL = "https://shop.example/health"


@dataclass
class Received:
    """One request a receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Script:
    """What the receiver answers: `fail` requests with `fail_status` first, then `status`."""

    status: int = 204
    answer: bytes = b""
    fail: int = 0
    fail_status: int = 503
    #: Hold the next request (recorded, not answered) until `release` is set.
    hold: bool = False
    release: threading.Event = field(default_factory=threading.Event)
    delay: float = 0.0


class Receiver:
    """A local HTTP server recording every POST: webhook, Slack, PagerDuty stand-ins."""

    def __init__(self, script: Script | None = None, port: int = 0) -> None:
        self.script = script or Script()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                script = receiver.script
                with receiver.lock:
                    receiver.received.append(Received(self.path, dict(self.headers), body))
                    hold = script.hold
                    script.hold = False
                    failing = script.fail > 0
                    script.fail -= 1 if failing else 0
                if hold:
                    script.release.wait(60)
                    self.close_connection = True
                    return
                if script.delay:
                    time.sleep(script.delay)
                status = script.fail_status if failing else script.status
                answer = b"busy" if failing else script.answer
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def bodies(self) -> list[Any]:
        with self.lock:
            return [r.json for r in self.received]

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Any]:
        assert wait_until(lambda: len(self.received) >= count, timeout), (
            f"expected {count} requests, got {self.bodies()}"
        )
        return self.bodies()

    def close(self) -> None:
        self.script.release.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FlappingSite:
    """A site that answers each request by a script: True is 200, False is 503; after the
    script, the last answer again. Records when each request arrived."""

    def __init__(self, script: Sequence[bool]) -> None:
        self.script = list(script)
        self.arrivals: list[float] = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with site.lock:
                    index = len(site.arrivals)
                    site.arrivals.append(time.time())
                ok = site.script[min(index, len(site.script) - 1)]
                body = b"ok" if ok else b"down"
                self.send_response(200 if ok else 503)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.lock = threading.Lock()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/health"

    def __enter__(self) -> FlappingSite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def config(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def webhook_config(path: Path, receiver_url: str, url: str = URL, extra: str = "") -> Path:
    """A notifier `ops` (webhook to the receiver) and a rule `site down` on `url`."""
    return config(
        path,
        f"""
[[notifier]]
name = "ops"
type = "webhook"
url = "{receiver_url}/hook"

[[alert]]
name = "site down"
urls = ["{url}"]
failure_threshold = 3
success_threshold = 2
notify = ["ops"]
{extra}
""",
    )


def checks(
    results: Sequence[bool], *, start: datetime | None = None, step: float = 1.0, url: str = URL
) -> list[ProbeResult]:
    """Probe results of `url`: True a 200, False a 503, `step` seconds apart from `start`."""
    start = start or datetime.now(timezone.utc) - timedelta(seconds=step * len(results) + 5)
    return [
        ProbeResult(
            url,
            start + timedelta(seconds=step * i),
            200 if ok else 503,
            12.5 if ok else 3.0,
        )
        for i, ok in enumerate(results)
    ]


class Timeline:
    """Checks of one URL that go on where the previous ones stopped, a `step` apart."""

    def __init__(self, url: str = URL, step: float = 1.0, start: datetime | None = None) -> None:
        self.url = url
        self.step = step
        self.next_at = start or datetime.now(timezone.utc) - timedelta(seconds=120)

    def __call__(self, results: Sequence[bool]) -> list[ProbeResult]:
        found = checks(results, start=self.next_at, step=self.step, url=self.url)
        self.next_at += timedelta(seconds=self.step * len(results))
        return found


def store(store_url: str, probes: Sequence[ProbeResult]) -> None:
    with open_store(store_url) as repository:
        store_events(repository, probes)


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, result.output
    return result.output


def incidents(store_url: str, *args: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(run("incidents", "-d", store_url, *args))["incidents"]
    return found


def alert_once(store_url: str, config_path: Path, *args: str) -> str:
    return run("alert", "--once", "-d", store_url, "--config", str(config_path), *args)


def events_of(bodies: Sequence[Any]) -> list[tuple[str, str]]:
    """(dedup key, event) of each generic webhook body, in arrival order."""
    return [(b["dedup_key"], b["event"]) for b in bodies]


@dataclass
class Transitions:
    rows: list[dict[str, Any]]

    def at(self, transition: str) -> datetime:
        from website_monitor.times import as_utc

        [row] = [r for r in self.rows if r["transition"] == transition]
        return as_utc(row["at"])


def transitions(store_url: str, incident_id: str) -> Transitions:
    with open_store(store_url) as repository:
        mark = repository.placeholder
        rows = repository.query(
            "SELECT transition, at, suppressed FROM incident_transitions"
            f" WHERE incident_id = {mark} ORDER BY seq",
            (incident_id,),
        )
    return Transitions(rows)


def stored_checks(store_url: str, url: str) -> list[tuple[datetime, bool]]:
    """(timestamp, ok) of every stored check of `url`, in timestamp order."""
    from website_monitor.times import as_utc

    with open_store(store_url) as repository:
        rows = repository.query(
            f"SELECT timestamp, ok FROM url_probes WHERE url = {repository.placeholder}"
            " ORDER BY timestamp, id",
            (url,),
        )
    return [(as_utc(r["timestamp"]), bool(r["ok"])) for r in rows]


def process_output(process: Any) -> Iterator[str]:
    """What a finished `wm` process wrote, stdout then stderr."""
    out, err = process.communicate(timeout=30)
    yield out
    yield err
