"""Datagrams per second handled by `wm listen` on loopback, against a bare receive loop.

    python -m bench.listen [--count 50000] [--timeout 30]

Both receivers get the same traffic from a sender process blasting a mix of
llpp arrivals, departures, statuses and StatsD lines at 127.0.0.1 as fast as it
can. The baseline is a bare Python `recv` loop that only counts; the listener
decodes, aggregates and flushes into a temporary SQLite store every second.
"Handled" counts datagrams received and processed; what the kernel dropped
because a receiver fell behind shows as lost. Prints a markdown table with the
ratio listener / baseline.
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import tempfile
import time
from pathlib import Path

from website_monitor.store import open_store
from website_monitor.telemetry import llpp
from website_monitor.telemetry.listener import Listener
from website_monitor.transport.direct import StoreWriter

IDLE = 0.5  # a receiver is done when nothing came for this long


def payloads() -> list[bytes]:
    out = []
    for i in range(64):
        station = f"station-{i % 8}"
        out.append(llpp.encode_arrival(station))
        out.append(llpp.encode_departure(station, 1_000_000 + 37_000 * i))
        out.append(f"api.latency.{i % 4}:{i * 0.7:.3f}|ms\nhits:1|c|@0.5".encode())
    out.append(llpp.encode_status("station-0", "ok"))
    return out


def blast(address: tuple[str, int], count: int, go: object) -> None:
    data = payloads()
    size = len(data)
    go.wait()  # type: ignore[attr-defined]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        send = sock.sendto
        for i in range(count):
            send(data[i % size], address)


def start_sender(address: tuple[str, int], count: int) -> tuple[multiprocessing.Process, object]:
    go = multiprocessing.Event()
    process = multiprocessing.Process(target=blast, args=(address, count, go), daemon=True)
    process.start()
    return process, go


def baseline(count: int, timeout: float) -> tuple[int, float]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(IDLE)
    process, go = start_sender(sock.getsockname(), count)
    received = 0
    started = time.perf_counter()
    last = started
    go.set()  # type: ignore[attr-defined]
    deadline = started + timeout
    recv = sock.recv
    while received < count and time.perf_counter() < deadline:
        try:
            recv(65536)
        except TimeoutError:
            break
        received += 1
        last = time.perf_counter()
    process.join(timeout)
    sock.close()
    return received, last - started


class NullPublisher:
    def publish(self, events: object) -> int:
        return len(events)  # type: ignore[arg-type]


def listener_run(count: int, timeout: float, store_url: str | None) -> tuple[int, float]:
    writer = StoreWriter(open_store(store_url)) if store_url else NullPublisher()
    listener = Listener(
        writer, bind="127.0.0.1:0", flush_interval=1.0, on_report=lambda stats: None
    )
    address = listener.start()
    process, go = start_sender(address, count)
    started = time.perf_counter()
    go.set()  # type: ignore[attr-defined]
    deadline = started + timeout
    handled, last, last_change = 0, started, started
    while time.perf_counter() < deadline:
        now = time.perf_counter()
        current = listener.stats.handled
        if current != handled:
            handled, last, last_change = current, now, now
            if handled >= count:
                break
        elif now - last_change > IDLE and not process.is_alive():
            break
        time.sleep(0.001)
    process.join(timeout)
    listener.stop()
    if isinstance(writer, StoreWriter):
        writer.close()
    return handled, last - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=50_000, help="datagrams per run")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per run at most")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        runs = [
            ("bare socket recv loop (baseline)", baseline(args.count, args.timeout)),
            ("Listener, no store", listener_run(args.count, args.timeout, None)),
            ("Listener + SQLite store", listener_run(args.count, args.timeout, store_url)),
        ]
    base_rate = runs[0][1][0] / runs[0][1][1] if runs[0][1][1] > 0 else 0.0
    print(f"{args.count} datagrams per run, sent from another process to 127.0.0.1\n")
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
