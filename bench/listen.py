"""Datagrams per second handled by `wm listen` on loopback, against a bare receive loop.

    python -m bench.listen [--count 50000] [--burst 1000] [--timeout 60]

Every receiver gets the same traffic: a sender process sends a mix of llpp
arrivals, departures, statuses and StatsD lines to 127.0.0.1 in bursts of
`--burst` datagrams (small enough for the socket buffer, so nothing is lost
while the receiver is behind); the next burst leaves once the receiver has
handled the previous one. The time to get all `--count` datagrams handled
gives datagrams/s. The baseline is a bare Python `recv` loop in a thread
that only counts; a bare `recvmsg` loop reading the kernel's drop count
(SO_RXQ_OVFL), as the listener does, shows what that costs; the listener
decodes, aggregates and flushes every second (to nothing, then to a
temporary SQLite store). A burst that loses datagrams ends after 0.5 s
without progress and the loss is shown. Prints a markdown table with the
ratio to the baseline, and the CPU time the receiving threads spent per
datagram (Linux's per-thread schedstat): on a shared, loaded machine the
wall-clock rates vary from run to run much more than the CPU time does.

Then a flood: `--count` datagrams sent at once, as fast as the sender can,
to the listener with its default receive buffer. It shows the kernel drops
the listener saw (SO_RXQ_OVFL) next to the kernel's own count for the socket
(/proc/net/udp), and whether handled + kernel drops + queue drops = sent.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import multiprocessing
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path

from website_monitor.codec import Event
from website_monitor.store import open_store
from website_monitor.telemetry import llpp, udp
from website_monitor.telemetry.listener import RECEIVE_BUFFER, Listener
from website_monitor.transport.direct import StoreWriter

STALL = 0.5  # a burst is over when nothing was handled for this long


def payloads() -> list[bytes]:
    out = []
    for i in range(64):
        station = f"station-{i % 8}"
        out.append(llpp.encode_arrival(station))
        out.append(llpp.encode_departure(station, 1_000_000 + 37_000 * i))
        out.append(f"api.latency.{i % 4}:{i * 0.7:.3f}|ms\nhits:1|c|@0.5".encode())
    out.append(llpp.encode_status("station-0", "ok"))
    return out


def sender(conn: Connection, address: tuple[str, int]) -> None:
    data = payloads()
    size = len(data)
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        send = sock.sendto
        while True:
            burst = conn.recv()
            if not burst:
                return
            for i in range(sent, sent + burst):
                send(data[i % size], address)
            sent += burst
            conn.send(burst)


@dataclasses.dataclass
class Run:
    handled: int
    seconds: float  # until the last datagram was handled
    cpu: float | None  # seconds the receiving threads ran, where the system says

    @property
    def rate(self) -> float:
        return self.handled / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_per_datagram(self) -> float | None:
        return self.cpu / self.handled if self.cpu is not None and self.handled else None


def thread_cpu(threads: Sequence[threading.Thread]) -> float | None:
    """Seconds the threads have run so far (Linux: /proc/self/task/<id>/schedstat)."""
    total = 0
    for thread in threads:
        try:
            with open(f"/proc/self/task/{thread.native_id}/schedstat") as stat:
                total += int(stat.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None
    return total / 1e9


def drive(
    handled: Callable[[], int],
    address: tuple[str, int],
    count: int,
    burst: int,
    timeout: float,
    threads: Sequence[threading.Thread] = (),
) -> Run:
    """Send `count` datagrams in bursts to the receiving `threads`."""
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=sender, args=(child, address), daemon=True)
    process.start()
    cpu_before = thread_cpu(threads)
    sent = 0
    started = time.perf_counter()
    deadline = started + timeout
    last_progress = started
    while sent < count and time.perf_counter() < deadline:
        size = min(burst, count - sent)
        parent.send(size)
        parent.recv()
        sent += size
        last_progress = time.perf_counter()  # a long burst takes a while to send
        seen = handled()
        while seen < sent:
            time.sleep(0.0002)
            now = time.perf_counter()
            current = handled()
            if current != seen:
                seen, last_progress = current, now
            elif now - max(last_progress, started) > STALL or now > deadline:
                break
        last_progress = time.perf_counter()
    finished = time.perf_counter()
    cpu_after = thread_cpu(threads)
    parent.send(0)
    process.join(10)
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return Run(handled(), finished - started, cpu)


def kernel_socket(port: int) -> tuple[int, int] | None:
    """(bytes queued, datagrams dropped) the kernel shows for the UDP socket on
    127.0.0.1:`port` (Linux's /proc/net/udp), else None."""
    local = f"0100007F:{port:04X}"
    try:
        with open("/proc/net/udp") as table:
            for line in table.readlines()[1:]:
                fields = line.split()
                if fields[1] == local:
                    return int(fields[4].split(":")[1], 16), int(fields[12])
    except OSError:
        return None
    return None


def baseline(count: int, burst: int, timeout: float, *, drops: bool = False) -> Run:
    """A bare receive loop: `recv`, or with `drops` `recvmsg` reading SO_RXQ_OVFL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if drops:
        udp.configure(sock, RECEIVE_BUFFER)
    else:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    sock.bind(("127.0.0.1", 0))
    received = [0]

    def loop() -> None:
        if drops:
            recvmsg, space = sock.recvmsg, udp.DROPS_SPACE
            while True:
                if not recvmsg(65536, space)[0]:
                    return
                received[0] += 1
        recv = sock.recv
        while True:
            if not recv(65536):
                return
            received[0] += 1

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    result = drive(lambda: received[0], sock.getsockname(), count, burst, timeout, [thread])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as waker:
        waker.sendto(b"", sock.getsockname())
    thread.join(5)
    sock.close()
    return result


class NullPublisher:
    def publish(self, events: Sequence[Event]) -> int:
        return len(events)

    def close(self) -> None:
        pass


def listener_run(count: int, burst: int, timeout: float, store_url: str | None) -> Run:
    publisher = StoreWriter(open_store(store_url)) if store_url else NullPublisher()
    listener = Listener(
        publisher, bind="127.0.0.1:0", flush_interval=1.0, on_report=lambda stats: None
    )
    address = listener.start()
    try:
        threads = listener.threads
        return drive(lambda: listener.stats.handled, address, count, burst, timeout, threads)
    finally:
        listener.stop()
        publisher.close()


@dataclasses.dataclass
class Flood:
    sent: int
    handled: int
    seconds: float
    kernel_drops: int  # as the listener saw them
    kernel_count: int | None  # the kernel's own, from /proc/net/udp
    queue_drops: int


def flood_run(count: int, timeout: float) -> Flood:
    """`count` datagrams at once to a listener (null publisher, default receive buffer)."""
    listener = Listener(
        NullPublisher(), bind="127.0.0.1:0", flush_interval=1.0, on_report=lambda stats: None
    )
    address = listener.start()
    stats = listener.stats
    try:
        seconds = drive(lambda: stats.handled, address, count, count, timeout).seconds
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # until the socket's queue is empty
            kernel = kernel_socket(address[1])
            if kernel is None or not kernel[0]:
                break
            time.sleep(0.01)
        flooded = stats.received
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as marker:
            marker.sendto(llpp.encode_arrival("marker"), address)  # brings the last drop count
        while stats.received == flooded and time.monotonic() < deadline:
            time.sleep(0.01)
        kernel = kernel_socket(address[1])
    finally:
        listener.stop()  # handles everything received
    kernel_count = None if kernel is None else kernel[1]
    return Flood(count, flooded, seconds, stats.kernel_drops, kernel_count, stats.dropped)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--count", type=int, default=50_000, help="datagrams per run")
    parser.add_argument("--burst", type=int, default=1000, help="datagrams per burst")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per run at most")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per receiver, interleaved; the fastest counts"
    )
    args = parser.parse_args()
    results: dict[str, list[Run]] = {}
    common = (args.count, args.burst, args.timeout)
    with tempfile.TemporaryDirectory() as tmp:
        for attempt in range(args.repeat):
            store_url = f"sqlite:///{Path(tmp) / f'bench-{attempt}.db'}"
            measures: list[tuple[str, Callable[[], Run]]] = [
                ("bare socket recv loop (baseline)", functools.partial(baseline, *common)),
                (
                    "bare recvmsg loop reading SO_RXQ_OVFL",
                    functools.partial(baseline, *common, drops=True),
                ),
                ("Listener, null publisher", functools.partial(listener_run, *common, None)),
                ("Listener, SQLite store", functools.partial(listener_run, *common, store_url)),
            ]
            for name, measure in measures:
                results.setdefault(name, []).append(measure())
    runs = [(name, max(found, key=lambda run: run.rate)) for name, found in results.items()]
    cpu_runs = {name: _least_cpu(found) for name, found in results.items()}
    base, base_cpu = runs[0][1], cpu_runs[runs[0][0]]
    print(
        f"{args.count} datagrams per run in bursts of {args.burst}, from another process to "
        f"127.0.0.1; fastest of {args.repeat} runs each (CPU: the least of them)\n"
    )
    print(
        "| receiver | handled | lost | seconds | datagrams/s | ratio to baseline "
        "| CPU µs/datagram | CPU ratio to baseline |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, run in runs:
        ratio = run.rate / base.rate if base.rate else 0.0
        cpu = cpu_runs[name]
        cpu_shown = "n/a" if cpu is None else f"{cpu * 1e6:.2f}"
        cpu_ratio = "n/a" if cpu is None or not base_cpu else f"{cpu / base_cpu:.2f}"
        print(
            f"| {name} | {run.handled} | {args.count - run.handled} | {run.seconds:.3f} | "
            f"{run.rate:,.0f} | {ratio:.2f} | {cpu_shown} | {cpu_ratio} |"
        )
    flood = flood_run(args.count, args.timeout)
    shown = "unknown" if flood.kernel_count is None else str(flood.kernel_count)
    accounted = flood.handled + flood.kernel_drops + flood.queue_drops
    print(
        f"\nFlood: {flood.sent} datagrams at once to the listener (null publisher, receive "
        f"buffer {RECEIVE_BUFFER} bytes asked for)\n"
    )
    print(
        "| sent | handled | kernel drops seen (SO_RXQ_OVFL) | kernel's count (/proc/net/udp) "
        "| queue drops | all accounted for |"
    )
    print("|---:|---:|---:|---:|---:|---|")
    print(
        f"| {flood.sent} | {flood.handled} | {flood.kernel_drops} | {shown} | "
        f"{flood.queue_drops} | {'yes' if accounted == flood.sent else f'no ({accounted})'} |"
    )


def _least_cpu(runs: Sequence[Run]) -> float | None:
    known = [run.cpu_per_datagram for run in runs if run.cpu_per_datagram is not None]
    return min(known) if known else None


if __name__ == "__main__":
    main()
