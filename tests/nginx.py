"""A real nginx writing a real access log (Debian's nginx-light), and traffic for it.

With CI=true a missing nginx is a failure (scripts/check installs it), never a skip.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from tests.services import ServiceUnavailable, free_port, wait_for_port

CONFIG = """
{user}
worker_processes 2;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log {root}/logs/access.log combined;
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""


def nginx_binary() -> str:
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin"
    found = shutil.which("nginx", path=path)
    if not found:
        raise ServiceUnavailable("nginx is not installed (apt-get install nginx-light)")
    return found


class Nginx:
    """nginx on 127.0.0.1:<free port>, logging to `<root>/logs/access.log`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.log = root / "logs" / "access.log"
        (root / "logs").mkdir(parents=True)
        (root / "tmp").mkdir()
        config = root / "nginx.conf"
        # Workers reopen the log on USR1 themselves: as root, let them reach a test's
        # private temporary directory.
        user = "user root;" if os.geteuid() == 0 else ""
        config.write_text(CONFIG.format(root=root, port=self.port, user=user))
        self.process = subprocess.Popen(
            [nginx_binary(), "-p", str(root), "-c", str(config), "-e", str(root / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port("127.0.0.1", self.port, timeout=15)
        except ServiceUnavailable:
            self.stop()
            raise

    def reopen_logs(self) -> None:
        """What logrotate's postrotate sends: reopen the log files (by name)."""
        self.process.send_signal(signal.SIGUSR1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: logs are written out
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Traffic:
    """Requests from `clients` keep-alive connections until stopped; counts the answers."""

    def __init__(self, port: int, clients: int = 4) -> None:
        self.port = port
        self.done = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.errors: list[str] = []
        #: Answered requests per client: client n asked for /api/client<n>/0, /1, ...
        self.answered: dict[int, int] = {}
        self.threads = [threading.Thread(target=self._client, args=(n,)) for n in range(clients)]
        for thread in self.threads:
            thread.start()

    def _client(self, n: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        sent = 0
        try:
            while not self.stopping.is_set():
                connection.request("GET", f"/api/client{n}/{sent}")
                response = connection.getresponse()
                response.read()
                sent += 1
                with self.lock:
                    self.done += 1
                    self.answered[n] = sent
        except OSError as exc:
            self.errors.append(repr(exc))
        finally:
            connection.close()

    def paths(self) -> set[str]:
        """The paths of every answered request."""
        return {f"/api/client{n}/{i}" for n, sent in self.answered.items() for i in range(sent)}

    def run_for(self, seconds: float) -> None:
        time.sleep(seconds)

    def stop(self) -> int:
        self.stopping.set()
        for thread in self.threads:
            thread.join()
        assert not self.errors, self.errors
        return self.done
