"""Flush: N probe messages in Kafka -> the real sink -> PostgreSQL, against a raw COPY.

Figures (rows/s):
* flush: `website_monitor.transport.sink.Sink` with the consumer `wm flush` opens
  (decode, one transaction per batch, offset commit; the write of a batch
  overlaps the poll and decode of the next; the rollups catch up on their own
  connection alongside), timed from the first non-empty poll until the last
  offset is committed and the rollups hold every row (the consumer group join
  is not counted);
* store write: `PostgresRepository.write` alone on the same decoded rows, in
  batches of the same size;
* rollup catch-up: `rollups.catch_up` alone over the same rows;
* baseline: a raw COPY of the same rows (text format, psycopg2) into the same
  table with the same indexes, no conflict check, no rollups.

Usage: python -m bench.flush [--rows N] [--batch-size B]
"""

from __future__ import annotations

import argparse
import io
import math
import random
import statistics
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

from bench._common import Result, Timer, log, scratch_database, services, table, time_sink
from website_monitor import config
from website_monitor.probes import rollups
from website_monitor.probes.codec import ProbeResult
from website_monitor.probes.queries import count_probes
from website_monitor.probes.store import PROBE_COLUMNS, copy_rows
from website_monitor.store import open_store
from website_monitor.store.postgres import PostgresRepository
from website_monitor.transport.kafka import KafkaPublisher, open_consumer
from website_monitor.transport.sink import Sink, split_batch
from website_monitor.transport.writer import store_events

SIZES = {"small": 50_000, "large": 200_000}


def generate(count: int, urls: int = 200, seed: int = 1) -> list[ProbeResult]:
    """`urls` URLs probed every 30 s, ending now, lognormal latencies, 2 % errors."""
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    rounds = math.ceil(count / urls)
    start = now - timedelta(seconds=30 * rounds)
    probes = []
    for i in range(count):
        timestamp = start + timedelta(seconds=30 * (i // urls) + rng.random())
        url = f"https://site-{i % urls}.example/health"
        if rng.random() < 0.02:
            probes.append(ProbeResult(url, timestamp, None, None, error="timeout"))
        else:
            value = round(rng.lognormvariate(math.log(120), 0.5), 3)
            probes.append(ProbeResult(url, timestamp, 200, value, ttfb_ms=round(value * 0.7, 3)))
    return probes


def reset(repository: PostgresRepository) -> None:
    """Empty the raw rows and everything the catch-ups keep, so each run starts alike."""
    repository.execute(
        "TRUNCATE url_probes, rollup_summary, rollup_latency,"
        " probe_latest, probe_series, probe_counters"
    )
    repository.execute("UPDATE rollup_state SET rolled_up_to = 0, series_to = 0")


def raw_copy(repository: PostgresRepository, probes: list[ProbeResult]) -> float:
    """Seconds for one COPY of the rows into url_probes (text built as the store builds it)."""
    columns = ", ".join(PROBE_COLUMNS)
    with Timer() as timer, repository.transaction() as tx:
        tx.cursor.copy_expert(
            f"COPY url_probes ({columns}) FROM STDIN", io.StringIO(copy_rows(probes))
        )
    return timer.elapsed


def store_write(repository: PostgresRepository, probes: list[ProbeResult], batch: int) -> float:
    with Timer() as timer:
        for i in range(0, len(probes), batch):
            store_events(repository, probes[i : i + batch])
    return timer.elapsed


def catch_up(repository: PostgresRepository) -> float:
    with Timer() as timer:
        rollups.catch_up(repository)
    return timer.elapsed


def flush(
    bootstrap: str, db_url: str, topic: str, count: int, batch: int, attempt: int = 0
) -> float:
    """Seconds the sink took from its first batch to the last row stored and rolled up."""
    settings = config.resolve(
        {
            "bootstrap_servers": bootstrap,
            "topic": topic,
            "consumer_group_id": f"bench-{topic}-{attempt}",
            "batch_size": batch,
        },
        env={},
    )
    repository = open_store(db_url)
    consumer = open_consumer(settings, topic, session_timeout_ms=6000)
    marks: dict[str, float] = {}
    stop = threading.Event()
    try:
        sink = Sink(consumer, repository, batch_size=batch, on_progress=lambda s: None)
        marks = time_sink(sink, consumer, stop, stop_at=count)
        stats = sink.run(stop, drain=False, idle_timeout=5.0)
        rollups.catch_up(repository)  # what --drain does before it exits
        marks["last"] = time.perf_counter()
    finally:
        consumer.close(autocommit=False)
        repository.close()
    if stats.stored != count:
        raise RuntimeError(f"flush stored {stats.stored} of {count} messages")
    return marks["last"] - marks["first"]


def consume_only(bootstrap: str, topic: str, count: int, batch: int) -> float:
    """Seconds to poll and decode every message (no store): the sink's ceiling."""
    settings = config.resolve(
        {
            "bootstrap_servers": bootstrap,
            "consumer_group_id": f"bench-decode-{topic}",
            "batch_size": batch,
        },
        env={},
    )
    consumer = open_consumer(settings, topic, session_timeout_ms=6000)
    seen = 0
    first = None
    try:
        while seen < count:
            polled = consumer.poll(timeout_ms=500, max_records=batch)
            if polled and first is None:
                first = time.perf_counter()
            records = [record for part in polled.values() for record in part]
            decoded = split_batch(records)
            assert not decoded.dead
            seen += len(decoded.events)
            if polled:
                consumer.commit({p: max(r.offset for r in rs) + 1 for p, rs in polled.items()})
        assert first is not None
        return time.perf_counter() - first
    finally:
        consumer.close(autocommit=False)


def produce(bootstrap: str, topic: str, probes: list[ProbeResult]) -> None:
    settings = config.resolve({"bootstrap_servers": bootstrap}, env={})
    from website_monitor.transport.kafka import ensure_topic

    ensure_topic(settings, topic)
    publisher = KafkaPublisher(settings, topic)
    try:
        for i in range(0, len(probes), 20_000):
            publisher.publish(probes[i : i + 20_000])
    finally:
        publisher.close()


#: The flush and its baseline are each measured this many times, interleaved; the
#: table shows the medians (a shared 2-core machine moves single runs by +-30 %).
REPEATS = 3


def run(rows: int, batch: int, repeats: int = REPEATS) -> list[Result]:
    probes = generate(rows)
    results = []
    with scratch_database("flush") as db_url, open_store(db_url) as repository:
        assert isinstance(repository, PostgresRepository)
        reset(repository)
        write_s = store_write(repository, probes, batch)
        assert count_probes(repository) == rows
        catch_up_s = catch_up(repository)
        assert rollups.pending(repository) == 0
        copy_runs: list[float] = []
        flush_runs: list[float] = []
        with services.kafka_broker() as bootstrap:
            topic = f"bench-{uuid.uuid4().hex[:8]}"
            log(f"flush: producing {rows:,} messages")
            produce(bootstrap, topic, probes)
            for attempt in range(repeats):
                reset(repository)
                copy_runs.append(rows / raw_copy(repository, probes))
                assert count_probes(repository) == rows
                reset(repository)
                flush_runs.append(rows / flush(bootstrap, db_url, f"{topic}", rows, batch, attempt))
                assert count_probes(repository) == rows
                log(
                    f"flush: run {attempt + 1}: {flush_runs[-1]:,.0f} rows/s,"
                    f" raw COPY {copy_runs[-1]:,.0f} rows/s"
                )
            decode_s = consume_only(bootstrap, topic, rows, batch)
        copy_rate = statistics.median(copy_runs)
        ratios = sorted(f / c for f, c in zip(flush_runs, copy_runs, strict=True))
        results.append(
            Result(
                "flush",
                f"wm flush (Sink, Kafka -> PostgreSQL, batch {batch}, {rows:,} rows,"
                f" median of {repeats})",
                statistics.median(flush_runs),
                "rows/s",
                f"raw COPY of the same rows, median of {repeats}",
                copy_rate,
                target=0.5,
                note=f"each run's own ratio: {', '.join(f'{r:.2f}' for r in ratios)}; timed"
                " until the rollups hold every row. The sink overlaps the store write of"
                " batch N with the poll + decode of batch N+1, and the rollups catch up on a"
                " second connection alongside",
            )
        )
        results.append(
            Result(
                "flush/decode",
                f"Kafka poll + decode alone (librdkafka consumer, batch {batch}, no store)",
                rows / decode_s,
                "rows/s",
                "raw COPY of the same rows",
                copy_rate,
            )
        )
        results.append(
            Result(
                "flush/write",
                f"store write alone (COPY, batch {batch})",
                rows / write_s,
                "rows/s",
                "raw COPY of the same rows",
                copy_rate,
            )
        )
        results.append(
            Result(
                "flush/rollups",
                f"rollup catch-up alone ({rows:,} rows of the current week: day rows)",
                rows / catch_up_s,
                "rows/s",
                "raw COPY of the same rows",
                copy_rate,
                note="flush stores raw rows at COPY speed and rolls them up in bulk on a"
                " second connection: every 10,000 probes, when idle and before --drain exits."
                " A week's rows are folded from its days once, when it is over",
            )
        )
    return results


def run_size(size: str) -> list[Result]:
    """What `python -m bench --size SIZE` runs: `wm flush`'s default batch size."""
    return run(SIZES[size], config.Settings().flush.batch_size)


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--batch-size", type=int, default=config.Settings().flush.batch_size)
    args = parser.parse_args(argv)
    results = run(args.rows or SIZES[args.size], args.batch_size)
    print(table(results))
    return results


if __name__ == "__main__":
    main()
