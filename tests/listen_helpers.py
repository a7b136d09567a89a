"""Helpers for the telemetry listener tests: a listener on an ephemeral port, a stepping clock."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

from website_monitor.store import open_store
from website_monitor.telemetry.listener import Listener, ListenerStats
from website_monitor.transport.direct import StoreWriter

#: 2026-11-23T10:00:00Z, the start of a 10-minute bucket.
BUCKET_START = 1_795_428_000.0


class SteppingClock:
    """Each reading is 1 ms after the previous one, from `start`: arrival order is time order."""

    def __init__(self, start: float) -> None:
        self._ticks = itertools.count()
        self.start = start

    def __call__(self) -> float:
        return self.start + next(self._ticks) / 1000.0


@contextlib.contextmanager
def running_listener(
    store_url: str, clock: SteppingClock | None = None, **options: object
) -> Iterator[Listener]:
    """A listener writing to `store_url`, bound to 127.0.0.1 on an ephemeral port."""
    reports: list[ListenerStats] = []
    writer = StoreWriter(open_store(store_url))
    listener = Listener(
        writer,
        bind="127.0.0.1:0",
        clock=clock or SteppingClock(BUCKET_START + 60),
        on_report=reports.append,
        **options,  # type: ignore[arg-type]
    )
    listener.start()
    listener.reports = reports  # type: ignore[attr-defined]
    try:
        yield listener
    finally:
        listener.stop()
        writer.close()


def clear_of_bucket_boundary(bucket_seconds: float = 600, margin: float = 15) -> None:
    """Wait, if needed, so that the next `margin` seconds of wall time stay in one bucket."""
    remaining = bucket_seconds - time.time() % bucket_seconds
    if remaining < margin:
        time.sleep(remaining + 0.05)


def kernel_udp_socket(port: int) -> tuple[int, int]:
    """(bytes queued, datagrams dropped) the kernel shows for the UDP socket bound to
    127.0.0.1:`port`, from /proc/net/udp (Linux)."""
    local = f"0100007F:{port:04X}"
    with open("/proc/net/udp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if fields[1] == local:
                queued = int(fields[4].split(":")[1], 16)
                return queued, int(fields[12])
    raise LookupError(f"no UDP socket on 127.0.0.1:{port}")


def wait_kernel_queue_empty(port: int, timeout: float = 30.0) -> int:
    """Wait until the socket's receive queue is empty; returns its drop count then."""
    deadline = time.monotonic() + timeout
    while True:
        queued, drops = kernel_udp_socket(port)
        if not queued:
            return drops
        if time.monotonic() > deadline:
            raise TimeoutError(f"{queued} bytes still queued on port {port}")
        time.sleep(0.01)


def start_listen(
    *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """`wm listen` in a subprocess on an ephemeral port; returns it and its address."""
    process, address, _ = launch_listen(*args, env=env)
    return process, address


def launch_listen(
    *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str, str]:
    """`start_listen`, also returning what it logged up to its start-up line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "website_monitor", "listen", "--bind", "127.0.0.1:0", *args],
        stderr=subprocess.PIPE,
        text=True,
        env={**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 20
    seen = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        seen.append(line)
        match = re.search(r"listening on (127\.0\.0\.1:\d+)", line)
        if match:
            return process, match.group(1), "".join(seen)
        if not line and process.poll() is not None:
            break
    process.kill()
    raise AssertionError("wm listen did not start: " + "".join(seen))


def stop_listen(process: subprocess.Popen[str]) -> str:
    """SIGTERM; returns what it logged after its start-up line."""
    assert process.stderr is not None
    process.send_signal(signal.SIGTERM)
    # Read through the same text stream that launch_listen read from: communicate() reads
    # the pipe itself and would miss what readline() had already buffered.
    killer = threading.Timer(30, process.kill)
    killer.start()
    try:
        err = process.stderr.read()
        process.wait()
    finally:
        killer.cancel()
    assert process.returncode == 0, err
    return err


def granted_receive_buffer(asked: int) -> int:
    """What the kernel grants a UDP socket that asks for `asked` bytes of receive buffer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as plain:
        plain.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, asked)
        return plain.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
