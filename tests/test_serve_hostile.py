"""`wm serve` against hostile clients: rebinding pages, deep JSON, clients that go away or
never finish, batch ids chosen to collide."""

from __future__ import annotations

import socket
import time
from datetime import datetime, timezone

import pytest
import requests

from tests import traffic
from tests.services import free_port, wm_process
from tests.webserver import serving, wait_until_answering
from website_monitor.logs import web as logs_web
from website_monitor.store import open_store
from website_monitor.web import server


def get(base: str, path: str, host: str) -> requests.Response:
    return requests.get(base + path, headers={"Host": host}, timeout=10)


def test_a_rebinding_host_name_is_refused(sqlite_url: str) -> None:
    """A page of evil.example whose name resolves to 127.0.0.1 is, to the browser, its own
    origin: the server must not answer a Host it was not told it is."""
    with serving(sqlite_url) as served:
        port = served.base.rsplit(":", 1)[1]
        refused = get(served.base, "/api/stats", f"evil.example:{port}")
        assert refused.status_code == 421
        assert refused.json()["error"] == (
            "Error: this server does not answer to the host name 'evil.example'"
            " (hint: start wm serve with --allowed-host evil.example if it should)"
        )
        posted = requests.post(
            served.base + "/api/logs?source=h",
            data=traffic.clf(datetime.now(timezone.utc), "/x", 200, 1),
            headers={"Host": "evil.example", "Origin": "http://evil.example",
                     "Content-Type": "text/plain"},
            timeout=10,
        )  # fmt: skip
        assert posted.status_code == 421
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", "127.0.0.2", f"[::1]:{port}"):
            assert get(served.base, "/api/stats", host).status_code == 200, host
    with open_store(sqlite_url) as repository:
        assert repository.query("SELECT count(*) AS n FROM hits")[0]["n"] == 0


def test_allowed_hosts_and_a_wildcard_bind(sqlite_url: str) -> None:
    with serving(sqlite_url, allowed_hosts=["Monitor.Example"]) as served:  # type: ignore[arg-type]
        assert get(served.base, "/", "monitor.example").status_code == 200
        assert get(served.base, "/", "other.example").status_code == 421
    with serving(sqlite_url, bound="0.0.0.0") as served:  # type: ignore[arg-type]
        assert get(served.base, "/", "10.1.2.3:8080").status_code == 200
        assert get(served.base, "/", "localhost").status_code == 200
        assert get(served.base, "/", "evil.example").status_code == 421
    with serving(sqlite_url, allowed_hosts=["*"]) as served:  # type: ignore[arg-type]
        assert get(served.base, "/", "anything.example").status_code == 200


def test_deeply_nested_json_is_a_bad_request(sqlite_url: str) -> None:
    with serving(sqlite_url) as served:
        for depth in (100, 1_000, 100_000):
            body = '{"source": "h", "lines": ' + "[" * depth + "]" * depth + "}"
            answer = requests.post(
                served.base + "/api/logs",
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=10,
            )
            assert answer.status_code == 400, depth
            assert answer.json()["error"].startswith("Error: "), depth
        assert served.get("/api/stats").status_code == 200


def test_batch_ids_do_not_collide_whatever_the_source_and_batch_hold(sqlite_url: str) -> None:
    line = traffic.clf(datetime.now(timezone.utc), "/x", 200, 1)
    with serving(sqlite_url) as served:
        stored = [
            requests.post(
                served.base + "/api/logs",
                json={"source": source, "batch": batch, "lines": [line] * 10},
                timeout=10,
            ).json()["stored"]
            for source, batch in (("a\nb", "c"), ("a", "b\nc"), ("a", "b\nc"))
        ]
    assert stored == [10, 10, 0]  # the third is a retry of the second


def test_connections_that_send_nothing_or_never_finish_are_closed(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server._TimedH11Protocol, "header_timeout", 1.0)
    monkeypatch.setattr(logs_web, "BODY_TIMEOUT", 1.0)
    with serving(sqlite_url) as served:
        host, port = served.base.removeprefix("http://").rsplit(":", 1)

        def connect() -> socket.socket:
            sock = socket.create_connection((host, int(port)), timeout=10)
            return sock

        silent = connect()
        half = connect()
        half.sendall(b"GET /api/stats HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        slow_body = connect()
        slow_body.sendall(
            b"POST /api/logs?source=h HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: text/plain\r\nContent-Length: 1000\r\n\r\npartial"
        )
        started = time.monotonic()
        assert silent.recv(100) == b""  # closed by the server
        assert half.recv(100) == b""
        answer = b""
        while not answer.endswith(b"}") and (chunk := slow_body.recv(1000)):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b"the body did not arrive within 1s" in answer
        assert time.monotonic() - started < 8
        for sock in (silent, half, slow_body):
            sock.close()
        assert served.get("/api/stats").status_code == 200


def test_a_client_leaving_mid_body_is_one_log_line(sqlite_url: str) -> None:
    port = free_port()
    with wm_process("serve", "--bind", f"127.0.0.1:{port}", "-d", sqlite_url,
                    "--log-level", "info") as process:  # fmt: skip
        wait_until_answering(f"http://127.0.0.1:{port}")
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(
                    b"POST /api/logs?source=h HTTP/1.1\r\nHost: localhost\r\n"
                    b"Content-Type: text/plain\r\nContent-Length: 100000\r\n\r\n" + b"x" * 5000
                )
        assert requests.get(f"http://127.0.0.1:{port}/api/stats", timeout=10).ok
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert "Traceback" not in stderr
    gone = [line for line in stderr.splitlines() if "went away" in line]
    assert len(gone) == 3, stderr
    assert "POST /api/logs: the client went away after" in gone[0]
