"""Datagrams per second handled by `wm listen` on loopback, against a bare receive loop.

    python -m bench.listen [--count 50000] [--burst 1000] [--timeout 60]

Both receivers get the same traffic: a sender process sends a mix of llpp
arrivals, departures, statuses and StatsD lines to 127.0.0.1 in bursts of
`--burst` datagrams (small enough for the socket buffer, so nothing is lost
while the receiver is behind); the next burst leaves once the receiver has
handled the previous one. The time to get all `--count` datagrams handled
gives datagrams/s. The baseline is a bare Python `recv` loop in a thread
that only counts; the listener decodes, aggregates and flushes every second
(to nothing, then to a temporary SQLite store). A burst that loses datagrams
ends after 0.5 s without progress and the loss is shown. Prints a markdown
table with the ratio listener / baseline.
"""

from __future__ import annotations

import argparse
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
from website_monitor.telemetry import llpp
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


def drive(
    handled: Callable[[], int], address: tuple[str, int], count: int, burst: int, timeout: float
) -> tuple[int, float]:
    """Send `count` datagrams in bursts; returns (handled, seconds until the last was handled)."""
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=sender, args=(child, address), daemon=True)
    process.start()
    sent = 0
    started = time.perf_counter()
    deadline = started + timeout
    last_progress = started
    while sent < count and time.perf_counter() < deadline:
        size = min(burst, count - sent)
        parent.send(size)
        parent.recv()
        sent += size
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
    parent.send(0)
    process.join(10)
    return handled(), finished - started


def baseline(count: int, burst: int, timeout: float) -> tuple[int, float]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    sock.bind(("127.0.0.1", 0))
    received = [0]

    def loop() -> None:
        recv = sock.recv
        while True:
            if not recv(65536):
                return
            received[0] += 1

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    result = drive(lambda: received[0], sock.getsockname(), count, burst, timeout)
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


def listener_run(
    count: int, burst: int, timeout: float, store_url: str | None
) -> tuple[int, float]:
    publisher = StoreWriter(open_store(store_url)) if store_url else NullPublisher()
    listener = Listener(
        publisher, bind="127.0.0.1:0", flush_interval=1.0, on_report=lambda stats: None
    )
    address = listener.start()
    try:
        return drive(lambda: listener.stats.handled, address, count, burst, timeout)
    finally:
        listener.stop()
        publisher.close()


def _rate(result: tuple[int, float]) -> float:
    handled, seconds = result
    return handled / seconds if seconds > 0 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--count", type=int, default=50_000, help="datagrams per run")
    parser.add_argument("--burst", type=int, default=1000, help="datagrams per burst")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per run at most")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per receiver, interleaved; the fastest counts"
    )
    args = parser.parse_args()
    results: dict[str, list[tuple[int, float]]] = {}
    common = (args.count, args.burst, args.timeout)
    with tempfile.TemporaryDirectory() as tmp:
        for attempt in range(args.repeat):
            store_url = f"sqlite:///{Path(tmp) / f'bench-{attempt}.db'}"
            measures: list[tuple[str, Callable[[], tuple[int, float]]]] = [
                ("bare socket recv loop (baseline)", functools.partial(baseline, *common)),
                ("Listener, null publisher", functools.partial(listener_run, *common, None)),
                ("Listener, SQLite store", functools.partial(listener_run, *common, store_url)),
            ]
            for name, measure in measures:
                results.setdefault(name, []).append(measure())
    runs = [(name, max(found, key=_rate)) for name, found in results.items()]
    base_handled, base_seconds = runs[0][1]
    base_rate = base_handled / base_seconds if base_seconds > 0 else 0.0
    print(
        f"{args.count} datagrams per run in bursts of {args.burst}, from another process to "
        f"127.0.0.1; fastest of {args.repeat} runs each\n"
    )
    print("| receiver | handled | lost | seconds | datagrams/s | ratio to baseline |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (handled, seconds) in runs:
        rate = handled / seconds if seconds > 0 else 0.0
        ratio = rate / base_rate if base_rate else 0.0
        print(
            f"| {name} | {handled} | {args.count - handled} | {seconds:.3f} | {rate:,.0f} | "
            f"{ratio:.2f} |"
        )


if __name__ == "__main__":
    main()
