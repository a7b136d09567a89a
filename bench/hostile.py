"""Hostile input mixed into a busy stream, through every entry point: what became of each
message, and what the hostile part cost the good messages.

For each entry point (`wm flush` from the broker into PostgreSQL, `wm tail --publish`, the
`wm listen` UDP listener, `wm serve` POST /api/logs) two streams in the same run: `--good`
good messages alone (the baseline), then the same good messages with `--each` of each class
of hostile input of tests/test_hostile.py interleaved (a class of very large payloads is
sent fewer times: at most about 10 MB of it). Prints per class: sent, stored, counted,
dead-lettered, refused and lost, then good messages/s with the hostile mix against the
clean stream, with the ratio.

    python -m bench hostile          # 100k good messages per entry point, 3 runs of each
    python -m bench.hostile --good 20000 --each 20 --only flush --only serve
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bench._common import Result, log, scratch_database, services, table, time_sink
from tests import test_hostile as hostile
from tests.traffic import clf
from website_monitor import config
from website_monitor.deadletters.store import dead_letters
from website_monitor.store import open_store

STORED, COUNTED, DEAD, REFUSED = hostile.STORED, hostile.COUNTED, hostile.DEAD, hostile.REFUSED
COLUMNS = (STORED, COUNTED, DEAD, REFUSED)
#: About this many bytes of one class at most (a 2 MB message is sent 5 times, not 100).
CLASS_BYTES = 10 << 20


@dataclasses.dataclass
class Row:
    """What became of one class of input at one entry point."""

    entry: str
    name: str
    expected: str
    sent: int = 0
    seen: Counter[str] = dataclasses.field(default_factory=Counter)

    @property
    def lost(self) -> int:
        return self.sent - sum(self.seen.values())


def repeats(payload_size: int, each: int) -> int:
    return max(1, min(each, CLASS_BYTES // max(payload_size, 1)))


def spread(goods: list[Any], hostiles: list[Any]) -> list[Any]:
    """The good items with the hostile ones spread evenly among them."""
    if not hostiles:
        return list(goods)
    step = max(1, len(goods) // len(hostiles))
    out: list[Any] = []
    for i, bad in enumerate(hostiles):
        out += goods[i * step : (i + 1) * step]
        out.append(bad)
    return out + goods[len(hostiles) * step :]


# --- wm flush -------------------------------------------------------------------------------

MARK = re.compile(r"hx-([a-z]+)-(\d+)-(\d+)\.")


def flush_stream(good: int, each: int, mixed: bool) -> tuple[list[bytes], list[Any]]:
    """Values and, for each, None (good) or (kind, class index)."""
    kinds = list(hostile.KINDS.items())
    goods = [(json.dumps(kinds[i % 3][1].make(f"good-{i}.")).encode(), None) for i in range(good)]
    bad: list[tuple[bytes | None, Any]] = []
    for name, kind in kinds if mixed else ():
        for c, case in enumerate(hostile.flush_cases(kind)):
            size = len(case.payload(kind.make("x")) or b"")
            for r in range(repeats(size, each)):
                bad.append((case.payload(kind.make(f"hx-{name}-{c}-{r}.")), (name, c)))
    items = spread(goods, bad)
    return [v for v, _ in items], [label for _, label in items]


def produce(bootstrap: str, topic: str, values: list[bytes | None]) -> None:
    from confluent_kafka import Producer

    from website_monitor.transport.kafka import ensure_topic

    ensure_topic(config.resolve({"bootstrap_servers": bootstrap}, env={}), topic)
    producer = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 8 << 20,
                         "linger.ms": 20, "acks": "all"})  # fmt: skip
    for value in values:
        while True:
            try:
                producer.produce(topic, value=value, key=b"k", partition=0)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(60) == 0


def timed_flush(bootstrap: str, db: str, topic: str, total: int) -> float:
    """Seconds the sink took from its first poll with messages to the last commit."""
    from website_monitor.transport.kafka import open_consumer
    from website_monitor.transport.sink import Sink

    settings = config.resolve(
        {"bootstrap_servers": bootstrap, "consumer_group_id": f"g-{topic}"}, env={}
    )
    repository = open_store(db)
    consumer = open_consumer(settings, topic, session_timeout_ms=6000)
    marks: dict[str, float] = {}
    stop = threading.Event()
    try:
        sink = Sink(consumer, repository, on_progress=lambda s: None)
        marks = time_sink(sink, consumer, stop, stop_at=total)
        sink.run(stop, drain=False)
    finally:
        consumer.close(autocommit=False)
        repository.close()
    return marks["last"] - marks["first"]


def run_flush(
    bootstrap: str, db: str, good: int, each: int, mixed: bool
) -> tuple[float, list[Row]]:
    values, labels = flush_stream(good, each, mixed)
    topic = f"hostile-{uuid.uuid4().hex[:8]}"
    log(f"hostile flush: producing {len(values):,} messages ({'mixed' if mixed else 'clean'})")
    produce(bootstrap, topic, values)
    seconds = timed_flush(bootstrap, db, topic, len(values))
    rows: dict[Any, Row] = {}
    for name, kind in hostile.KINDS.items():
        for c, case in enumerate(hostile.flush_cases(kind)):
            rows[(name, c)] = Row("flush", case.name, case.outcome)
    with open_store(db) as repository:
        letters = {d.offset for d in dead_letters(repository, limit=10**7) if d.topic == topic}
        stored: Counter[Any] = Counter()
        good_stored = 0
        for kind in hostile.KINDS.values():
            for row in repository.query(kind.select):
                found = MARK.search(row["text"])
                if found:
                    stored[(found[1], int(found[2]))] += 1
                good_stored += "good-" in row["text"]
    for offset, label in enumerate(labels):
        if label is not None:
            rows[label].sent += 1
            if offset in letters:
                rows[label].seen[DEAD] += 1
    for label, n in stored.items():
        rows[label].seen[STORED] += n
    return good_stored / seconds, merged(rows.values(), good, good_stored, "flush")


def merged(rows: Any, good: int, good_stored: int, entry: str) -> list[Row]:
    """One row per class name (the three topics' rows of a class added up), good first."""
    out: dict[str, Row] = {}
    for row in rows:
        into = out.setdefault(row.name, Row(entry, row.name, row.expected))
        into.sent += row.sent
        into.seen.update(row.seen)
    first = Row(entry, "good messages", STORED, good, Counter({STORED: good_stored}))
    return [first, *(r for r in out.values() if r.sent)]


# --- wm tail --publish ----------------------------------------------------------------------


def run_tail(db: str, good: int, each: int, mixed: bool, work: Path) -> tuple[float, list[Row]]:
    start = datetime.now(timezone.utc) - timedelta(seconds=good / 200 + 60)
    goods = [
        clf(start + timedelta(seconds=i / 200), f"/g/{i}", 200, 100).encode() for i in range(good)
    ]
    bad: list[bytes] = []
    rows = [Row("tail", case.name, case.outcome) for case in hostile.TAIL_CASES]
    for c, case in enumerate(hostile.TAIL_CASES if mixed else ()):
        for r in range(repeats(len(case.payload), each)):
            bad.append(case.payload.replace(b'"GET /', f'"GET /hx{c}r{r}./'.encode()))
            rows[c].sent += 1
    log_file = work / f"access-{'mixed' if mixed else 'clean'}.log"
    log_file.write_bytes(b"\n".join(spread(goods, bad)) + b"\n")
    source = f"tail-{uuid.uuid4().hex[:8]}"
    log(f"hostile tail: {len(goods) + len(bad):,} lines ({'mixed' if mixed else 'clean'})")
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "website_monitor", "tail", str(log_file), "--json", "--publish",
         "--from-start", "--exit-at-eof", "--source", source, "-d", db],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    seconds = time.perf_counter() - began
    bad_lines = sum(json.loads(out).get("bad_lines", 0) for out in done.stdout.splitlines())
    with open_store(db) as repository:
        mark = repository.placeholder
        paths = [r["path"] for r in repository.query(
            f"SELECT path FROM hits WHERE source = {mark}", (source,))]  # fmt: skip
    good_stored = sum(p.startswith("/g/") for p in paths)
    for path in paths:
        if found := re.match(r"/hx(\d+)r\d+\.", path):
            rows[int(found[1])].seen[STORED] += 1
    # wm tail counts incorrect lines in its summaries, not per class: a class's lines that
    # were not stored are counted, and the total must be what the summaries counted
    for row in rows:
        if row.expected == COUNTED:
            row.seen[COUNTED] = row.sent - row.seen[STORED]
    unexplained = sum(r.seen[COUNTED] for r in rows) - bad_lines
    if unexplained:
        rows.append(
            Row("tail", "lines counted nowhere", COUNTED, 0, Counter({COUNTED: -unexplained}))
        )
    first = Row("tail", "good lines", STORED, good, Counter({STORED: good_stored}))
    return good_stored / seconds, [first, *(r for r in rows if r.sent or r.seen)]


# --- wm listen ------------------------------------------------------------------------------


def run_listen(db: str, good: int, each: int, mixed: bool) -> tuple[float, list[Row]]:
    from tests.listen_helpers import kernel_udp_socket, running_listener
    from website_monitor.telemetry import llpp
    from website_monitor.telemetry.sender import Sender

    cases = hostile.LISTEN_CASES if mixed else []
    rows = [Row("listen", case.name, case.outcome) for case in cases]
    # one phase per class, each its share of the good datagrams with the class spread
    # among them: the counters' change over a phase is that class's
    phases = len(cases) + 1
    arrival = llpp.encode_arrival("good")
    log(f"hostile listen: {good:,} good datagrams ({'mixed' if mixed else 'clean'})")
    with (
        running_listener(db, clock=time.time, flush_interval=1.0) as listener,
        Sender(listener.address) as sender,
    ):
        began = time.perf_counter()
        sent = 0
        for phase in range(phases):
            share = good // phases + (good % phases if phase == 0 else 0)
            bad: list[bytes] = []
            if phase < len(cases):
                payload = cases[phase].payload
                bad = [payload] * repeats(len(payload), each)
                rows[phase].sent = len(bad)
            before = Counter(listener.stats.bad)
            stream = spread([arrival] * share, bad)
            for i in range(0, len(stream), 200):  # bursts the socket buffer holds
                for data in stream[i : i + 200]:
                    sender.send(data)
                sent += len(stream[i : i + 200])
                waited = time.monotonic()  # a datagram the kernel dropped never arrives
                while listener.stats.handled + listener.stats.dropped < sent:
                    if time.monotonic() - waited > 1.0:
                        break
                    time.sleep(0.0005)
            if phase < len(cases):
                rows[phase].seen[COUNTED] = sum((Counter(listener.stats.bad) - before).values())
        seconds = time.perf_counter() - began
        drops = kernel_udp_socket(int(listener.address[1]))[1] + listener.stats.dropped
        listener.flush_now()
    with open_store(db) as repository:
        counts = {r["name"]: int(r["n"]) for r in repository.query(
            "SELECT name, sum(arrivals) AS n FROM telemetry_buckets GROUP BY name")}  # fmt: skip
    for row, case in zip(rows, cases, strict=True):
        if case.outcome == STORED:
            row.seen[STORED] = counts.get(llpp.decode(case.payload).station, 0)  # type: ignore[union-attr]
    first = Row("listen", "good datagrams", STORED, good, Counter({STORED: counts.get("good", 0)}))
    if drops:
        log(f"hostile listen: {drops} datagrams dropped (kernel or queue)")
    return counts.get("good", 0) / seconds, [first, *rows]


# --- wm serve POST /api/logs ----------------------------------------------------------------

LINES_PER_REQUEST = 1000


def line_of(case: hostile.Case, marker: str) -> bytes:
    """The hostile line of a line-level case, with `marker` as its path's first segment."""
    payload = case.payload
    data = payload["json"]["lines"][0].encode() if "json" in payload else payload["data"]
    return bytes(data).rstrip(b"\n").replace(b'"GET /', f'"GET /{marker}/'.encode())


def run_serve(db: str, good: int, each: int, mixed: bool) -> tuple[float, list[Row]]:
    import requests

    from tests.webserver import serving
    from website_monitor.logs import web as logs_web

    cases = hostile.SERVE_CASES if mixed else []
    rows = [Row("serve", case.name, case.outcome) for case in cases]
    good_lines = [
        clf(datetime.now(timezone.utc) - timedelta(seconds=60), f"/g/{i}", 200, 10).encode()
        for i in range(good)
    ]
    batches = [good_lines[i : i + LINES_PER_REQUEST] for i in range(0, good, LINES_PER_REQUEST)]
    requests_: list[tuple[str, Any]] = [("good", batch) for batch in batches]
    slow = [c for c, case in enumerate(cases) if case.name == hostile.SLOW]
    refused_kinds: list[tuple[str, Any]] = []
    for c, case in enumerate(cases):
        if case.outcome == REFUSED and case.name != hostile.SLOW:
            options = hostile.post_options(case.payload)
            size = case.payload["chunks"] << 16 if "chunks" in case.payload else len(
                json.dumps(options["json"]) if "json" in options else options["data"])  # fmt: skip
            refused_kinds += [("refuse", c)] * repeats(size, each)
        elif case.outcome != REFUSED:  # line-level: one hostile line in a good request each
            for r in range(each):
                requests_[(c * each + r) % len(requests_)] = ("good", [
                    *requests_[(c * each + r) % len(requests_)][1], (c, r)])  # fmt: skip
    stream = spread(requests_, refused_kinds)
    log(f"hostile serve: {good:,} good lines ({'mixed' if mixed else 'clean'})")
    original = logs_web.BODY_TIMEOUT
    logs_web.BODY_TIMEOUT = 1.0
    good_stored = 0
    try:
        with serving(db) as served:
            url = served.base + "/api/logs"
            slow_results: list[tuple[int, str]] = []
            slow_threads = [
                threading.Thread(target=lambda: slow_results.append(hostile.slow_post(served.base)))
                for _ in slow
                for _ in range(min(each, 5))
            ]
            began = time.perf_counter()
            for thread in slow_threads:
                thread.start()
            for n, (what, item) in enumerate(stream):
                if what == "refuse":
                    answer = requests.post(
                        url, timeout=60, **hostile.post_options(cases[item].payload)
                    )
                    rows[item].sent += 1
                    rows[item].seen[REFUSED if answer.status_code >= 400 else STORED] += 1
                    continue
                lines = [x if isinstance(x, bytes) else line_of(cases[x[0]], f"hx{x[0]}r{x[1]}.")
                         for x in item]  # fmt: skip
                answer = requests.post(
                    url, data=b"\n".join(lines), timeout=60,
                    params={"source": "serve", "batch": str(n)},
                    headers={"Content-Type": "text/plain"},
                ).json()  # fmt: skip
                for note in answer["rejected"]:
                    x = item[note["line"]]
                    if isinstance(x, tuple):
                        rows[x[0]].seen[COUNTED] += 1
                    else:
                        log(f"hostile serve: a good line was rejected: {note['reason']}")
                for x in item:
                    if isinstance(x, tuple):
                        rows[x[0]].sent += 1
                good_stored += answer["stored"]
            seconds = time.perf_counter() - began
            for thread in slow_threads:
                thread.join()
    finally:
        logs_web.BODY_TIMEOUT = original
    for c in slow:
        rows[c].sent = len(slow_threads)
        rows[c].seen[REFUSED] = sum(status == 408 for status, _ in slow_results)
    with open_store(db) as repository:
        paths = [
            r["path"] for r in repository.query("SELECT path FROM hits WHERE source = 'serve'")
        ]
    stored_marks = Counter(int(m[1]) for p in paths if (m := re.match(r"/hx(\d+)r\d+\.", p)))
    for c, n in stored_marks.items():
        rows[c].seen[STORED] += n
    good_stored -= sum(stored_marks.values())
    first = Row("serve", "good lines", STORED, good, Counter({STORED: good_stored}))
    return good_stored / seconds, [first, *rows]


# --- the report -----------------------------------------------------------------------------


def report(rows: list[Row]) -> str:
    lines = [
        "| entry point | input class | expected | sent | stored | counted | dead-lettered"
        " | refused | lost |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cells = " | ".join(f"{r.seen[c]:,}" for c in COLUMNS)
        lines.append(f"| {r.entry} | {r.name} | {r.expected} | {r.sent:,} | {cells} | {r.lost:,} |")
    return "\n".join(lines)


ENTRIES = ("flush", "tail", "listen", "serve")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--good", type=int, default=100_000, help="good messages per stream")
    parser.add_argument("--each", type=int, default=100, help="messages of each hostile class")
    parser.add_argument("--repeats", type=int, default=3, help="clean and mixed runs each")
    parser.add_argument("--only", action="append", choices=ENTRIES, help="repeatable")
    args = parser.parse_args(argv)
    # one warning per dead letter or refused request is what an operator sees; here, noise
    logging.getLogger("website_monitor").setLevel(logging.ERROR)
    chosen = args.only or list(ENTRIES)
    rows: list[Row] = []
    results: list[Result] = []
    lost = 0  # over every run
    with tempfile.TemporaryDirectory() as work:
        broker = services.kafka_broker() if "flush" in chosen else None
        bootstrap = broker.__enter__() if broker is not None else ""
        try:
            runners: dict[str, Callable[[str, bool], tuple[float, list[Row]]]] = {
                "flush": lambda db, m: run_flush(bootstrap, db, args.good, args.each, m),
                "tail": lambda db, m: run_tail(db, args.good, args.each, m, Path(work)),
                "listen": lambda db, m: run_listen(db, args.good, args.each, m),
                "serve": lambda db, m: run_serve(db, args.good, args.each, m),
            }

            def once(entry: str, mixed: bool) -> tuple[float, list[Row]]:
                """One stream into a database of its own (nothing left from another run)."""
                with scratch_database("hostile") as db:
                    open_store(db).close()
                    return runners[entry](db, mixed)

            for entry in chosen:
                cleans, mixeds = [], []
                # clean then mixed, then mixed then clean, …: on this shared machine the
                # first run of a pair is often the slower, whichever it is
                for k in range(args.repeats):
                    for mixed in (False, True) if k % 2 == 0 else (True, False):
                        rate, runs_rows = once(entry, mixed)
                        if mixed:
                            mixeds.append(rate)
                            entry_rows = runs_rows
                            lost += sum(r.lost for r in entry_rows)
                        else:
                            cleans.append(rate)
                rows += entry_rows  # the last mixed run's
                hostile_sent = sum(r.sent for r in entry_rows[1:])
                results.append(Result(
                    f"hostile/{entry}",
                    f"good messages/s with {hostile_sent:,} hostile mixed in (median of"
                    f" {args.repeats})", statistics.median(mixeds), "msg/s",
                    f"{args.good:,} good messages alone", statistics.median(cleans),
                    note="runs: " + ", ".join(f"{m:,.0f} vs {c:,.0f}" for m, c in zip(
                        mixeds, cleans, strict=True)),
                ))  # fmt: skip
        finally:
            if broker is not None:
                broker.__exit__(None, None, None)
    print(f"## Hostile input ({args.good:,} good messages per stream, --each {args.each})\n")
    print(report(rows))
    print()
    print(table(results))
    print(f"\nLost, over all {args.repeats} runs of each stream: {lost:,}.")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
