"""`wm listen` under load, over real UDP: kernel drops are seen, logged and exported to
/metrics, the receive buffer is what was asked for, an idle listener does not wake up."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.listen_helpers import (
    granted_receive_buffer,
    launch_listen,
    running_listener,
    stop_listen,
    wait_kernel_queue_empty,
)
from tests.test_listen_cli import run
from tests.webserver import serving
from website_monitor.telemetry import health
from website_monitor.telemetry.sender import Sender
from website_monitor.telemetry.udp import SO_RXQ_OVFL, DropCounter

linux_only = pytest.mark.skipif(SO_RXQ_OVFL is None, reason="kernel drop counts are Linux's")

FLOOD = textwrap.dedent(
    """
    import socket, sys
    port, count = int(sys.argv[1]), int(sys.argv[2])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        send = sock.sendto
        for _ in range(count):
            send(b"flood:1|c", ("127.0.0.1", port))
    """
)


def flood(port: int, count: int) -> None:
    """`count` datagrams as fast as another process can send them."""
    subprocess.run([sys.executable, "-c", FLOOD, str(port), str(count)], check=True, timeout=120)


def metric_values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


# --- kernel drops -------------------------------------------------------------------------


@linux_only
def test_kernel_drops_are_reported_and_exported_to_metrics(sqlite_url: str) -> None:
    buffer = 4096  # a few datagrams' worth: a flood overflows it
    process, address, started = launch_listen(
        "-d", sqlite_url, "--receive-buffer", str(buffer), "--flush-interval", "1h"
    )
    port = int(address.rsplit(":", 1)[1])
    sent = 0
    with Sender(address) as sender:
        for _ in range(3):
            sender.send(b"llppxxxx\x01\x00a")  # bad: wrong_magic
            sent += 1
        wait_kernel_queue_empty(port)
        for _ in range(10):  # until the kernel has dropped some (it nearly always does at once)
            flood(port, 20_000)
            sent += 20_000
            if wait_kernel_queue_empty(port):
                break
        kernel_drops = wait_kernel_queue_empty(port)
        assert kernel_drops > 0, "the flood never overflowed the receive buffer"
        sender.arrival("after-the-flood")  # carries the drop count to the listener
        sent += 1
        assert wait_kernel_queue_empty(port) == kernel_drops
    err = stop_listen(process)
    granted = re.search(r"receive buffer (\d+) bytes granted \((\d+) asked for\)", started)
    assert granted is not None, started
    assert (int(granted[1]), int(granted[2])) == (granted_receive_buffer(buffer), buffer)
    progress = re.findall(
        r"received (\d+) datagrams .*?, (\d+) dropped by the kernel \(receive buffer full\), "
        r"(\d+) dropped by the listener \(queue full\), (\d+) bad",
        err,
    )
    assert progress, err
    received, reported_drops, queue_drops, bad = map(int, progress[-1])
    assert reported_drops == kernel_drops  # the kernel's own count for the socket
    assert received + reported_drops == sent
    assert (queue_drops, bad) == (0, 3)
    flooded = [e for e in run_stations(sqlite_url) if e["name"] == "flood"]
    assert sum(e["total"] for e in flooded) == received - 3 - 1

    with serving(sqlite_url) as server:
        values = metric_values(server.get("/metrics").text)
    assert values[("wm_listen_kernel_drops_total", ())] == kernel_drops
    assert values[("wm_listen_datagrams_total", ())] == received
    assert values[("wm_listen_queue_drops_total", ())] == 0
    bad_reasons = {
        dict(labels)["reason"]: value
        for (name, labels), value in values.items()
        if name == "wm_listen_bad_datagrams_total"
    }
    assert bad_reasons == {reason: 0.0 for reason in health.BAD_REASONS} | {"wrong_magic": 3.0}
    # the listener's own counters stay out of the stations unless asked for
    assert health.KERNEL_DROPS not in {e["name"] for e in run_stations(sqlite_url)}
    own = run_stations(sqlite_url, "--station", health.KERNEL_DROPS)
    assert sum(e["total"] for e in own) == kernel_drops


def run_stations(store_url: str, *args: str) -> list[dict[str, Any]]:
    return json.loads(run("stations", "-d", store_url, *args))["stations"]  # type: ignore[no-any-return]


@linux_only
def test_receive_buffer_from_the_environment_and_the_config_file(
    tmp_path: Path, sqlite_url: str
) -> None:
    rmem_max = int(Path("/proc/sys/net/core/rmem_max").read_text())
    asked = 2 * rmem_max + 4096  # more than Linux grants: it caps at rmem_max
    if asked > 2**31 - 1:
        pytest.skip("net.core.rmem_max is too large to ask for more")
    granted = granted_receive_buffer(asked)
    assert granted < asked
    config = tmp_path / "wm.toml"
    config.write_text(f"[listen]\nreceive_buffer = {asked}\n")
    process, _, started = launch_listen("-d", sqlite_url, "--config", str(config))
    err = stop_listen(process)
    assert f"receive buffer {granted} bytes granted ({asked} asked for)" in started
    assert f"raise net.core.rmem_max (sysctl -w net.core.rmem_max={asked})" in err

    env = {**os.environ, "WM_LISTEN_RECEIVE_BUFFER": "65536"}
    process, _, started = launch_listen("-d", sqlite_url, "--config", str(config), env=env)
    err = stop_listen(process)
    assert f"receive buffer {granted_receive_buffer(65536)} bytes granted (65536 asked" in started
    assert "rmem_max" not in started + err
    process, _, started = launch_listen(
        "-d", sqlite_url, "--config", str(config), "--receive-buffer", "8192", env=env
    )
    stop_listen(process)
    assert f"receive buffer {granted_receive_buffer(8192)} bytes granted (8192 asked" in started


def test_drop_counts_unwrap_past_32_bits() -> None:
    counter = DropCounter()
    level = socket.SOL_SOCKET

    def count(raw: int) -> list[tuple[int, int, bytes]]:
        return [(level, SO_RXQ_OVFL or 40, raw.to_bytes(4, sys.byteorder))]

    assert counter.seen(count(5)) == 5
    assert counter.seen(count(2**32 - 1)) == 2**32 - 1
    assert counter.seen(count(3)) == 2**32 + 3  # wrapped
    assert counter.seen([]) == 2**32 + 3


# --- idle -----------------------------------------------------------------------------------


def wakeups(thread: threading.Thread) -> int:
    """How often the thread has blocked and been woken (Linux: voluntary context switches)."""
    status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
    return int(re.search(r"voluntary_ctxt_switches:\s+(\d+)", status)[1])  # type: ignore[index]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc (Linux)")
def test_an_idle_listener_does_not_wake_up(sqlite_url: str) -> None:
    with (
        running_listener(sqlite_url, flush_interval=3600, report_interval=3600) as listener,
        Sender(listener.address) as sender,
    ):
        sender.arrival("before")
        listener.wait_received(1)
        listener.flush_now()
        worker, receiver = listener._worker, listener._receiver
        assert worker is not None and receiver is not None
        time.sleep(0.2)  # settle
        before = wakeups(worker), wakeups(receiver)
        time.sleep(2.0)
        after = wakeups(worker), wakeups(receiver)
        assert after[0] - before[0] <= 2, f"the worker woke {after[0] - before[0]} times"
        assert after[1] == before[1]
        sender.arrival("after")  # a datagram still wakes it
        listener.wait_received(2)
        listener.flush_now()
        assert listener.stats.messages == 2
