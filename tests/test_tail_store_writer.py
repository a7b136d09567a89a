"""`wm tail --publish` to a store: batches written on a thread of their own
(`transport.background`), with every failure counted and reported as before."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from website_monitor.cli import main
from website_monitor.errors import DeliveryError
from website_monitor.logs.formats import LogRecord
from website_monitor.store import open_store
from website_monitor.transport.background import BackgroundPublisher

LINE = '10.0.0.{n} - - [09/May/2018:16:{m:02d}:{s:02d} +0000] "GET /p/{n} HTTP/1.1" 200 {n}'


def write_log(path: Path, lines: int) -> None:
    path.write_text(
        "".join(LINE.format(n=i, m=i // 60 % 60, s=i % 60) + "\n" for i in range(lines))
    )


def run_tail(log: Path, url: str, *extra: str) -> Result:
    return CliRunner().invoke(
        main,
        ["tail", str(log), "--from-start", "--exit-at-eof", "--publish", "--no-record-alerts",
         "--source", "web-1", "-d", url, "--json", *extra],
    )  # fmt: skip


def tail(log: Path, url: str) -> tuple[int, str]:
    result = run_tail(log, url)
    return result.exit_code, result.output


def tail_into_altered(
    pg_url: str, tmp_path: Path, lines: int, alter: str
) -> tuple[int, list[str], str]:
    """`wm tail` of `lines` lines into a PostgreSQL store whose hits table was altered
    (`ALTER TABLE hits <alter>`): its exit code, its `Error:` lines and its output."""
    log = tmp_path / "access.log"
    write_log(log, lines)
    open_store(pg_url).close()
    with open_store(pg_url) as store:
        store.execute(f"ALTER TABLE hits {alter}")
    code, output = tail(log, pg_url)
    return code, [line for line in output.splitlines() if line.startswith("Error:")], output


def test_a_large_file_is_stored_whole_and_once(store_url: str, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    write_log(log, 25_000)  # three of the writer's batches, the last one partial
    assert tail(log, store_url)[0] == 0
    assert tail(log, store_url)[0] == 0  # the same lines again: the same ids
    with open_store(store_url) as store:
        row = store.query("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM hits")[0]
        totals = store.query("SELECT sum(hits) AS n FROM hit_totals")[0]
    assert (row["n"], row["d"]) == (25_000, 25_000)
    assert totals["n"] == 25_000  # the rollups caught up before wm tail exited


def test_hits_the_store_cannot_take_are_counted_and_reported(pg_url: str, tmp_path: Path) -> None:
    code, errors, output = tail_into_altered(pg_url, tmp_path, 12_000, "RENAME TO hits_elsewhere")
    assert code == 1
    assert errors == ["Error: 12000 of 12000 hits were not published (hint: see the errors above)"]
    assert "Traceback" not in output


class _Refusing:
    """A publisher that refuses the batches starting with "refused", and fails outright on
    a batch of one."""

    def __init__(self) -> None:
        self.stored: list[Any] = []
        self.thread: str | None = None

    def publish(self, events: Sequence[Any]) -> int:
        self.thread = threading.current_thread().name
        if len(events) == 1:
            raise RuntimeError("a writer bug")
        if events[0].startswith("refused"):
            raise DeliveryError("refused", undelivered=events)
        self.stored.extend(events)
        return len(events)

    def close(self) -> None:
        pass


def test_background_publisher_reports_failed_batches_and_raises_a_crash() -> None:
    inner = _Refusing()
    writer: Any = BackgroundPublisher(inner)
    batches = [[f"{'refused' if b % 2 else 'ok'}{b}-{i}" for i in range(3)] for b in range(4)]
    for batch in batches:
        writer.send(batch)
    writer.settle()
    failed = writer.take_failed()
    assert [batch for batch, _ in failed] == [batches[1], batches[3]]
    assert all(error.message == "refused" for _, error in failed)
    assert inner.stored == batches[0] + batches[2]
    assert inner.thread == "wm-store-writer"
    assert writer.take_failed() == []
    writer.send(["alone"])
    with pytest.raises(RuntimeError, match="a writer bug"):
        writer.settle()
    writer.send(["ok-after", "the crash"])
    writer.close()  # writes what was sent before stopping
    assert inner.stored[-2:] == ["ok-after", "the crash"]


def test_hits_kafka_did_not_take_are_counted_and_logged(
    own_broker: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The Kafka outlet: hits handed to librdkafka that never reach a broker (it stopped)
    come back when the publisher settles, counted as failed and logged once."""
    from website_monitor.config import Settings, StreamSettings
    from website_monitor.logs.codec import encode
    from website_monitor.logs.formats import parse_ncsa
    from website_monitor.logs.publish import HitPublisher
    from website_monitor.transport.producer import BatchPublisher

    settings = Settings(stream=StreamSettings(bootstrap_servers=(own_broker.bootstrap,)))
    producer = BatchPublisher(settings, "hits-lost", encode, timeout_s=0.1)  # type: ignore[arg-type]
    own_broker.stop()
    records = [(parse_ncsa(LINE.format(n=i, m=0, s=i % 60)), "inode-1", i * 80) for i in range(250)]
    hits = HitPublisher(producer, "web-1", batch_size=100)
    try:
        hits.publish(records)  # type: ignore[arg-type]
        hits.finish()
    finally:
        producer.close()
    assert (hits.published, hits.failed) == (0, 250)
    lost = [r.getMessage() for r in caplog.records if "not acknowledged by Kafka" in r.getMessage()]
    assert len(lost) == 1 and lost[0].startswith("250 hits were not acknowledged by Kafka: ")


_PLAIN = st.sampled_from(["-", "10.0.0.1", "GET", "/a/b?c=1", "/", "ü€ 𝄞", "curl/8"])
_ODD = _PLAIN | st.sampled_from(["", "a\\b", "\\N", "t\tab", "l\ni", "c\rr", "n\x00l"])
_ODD = _ODD | st.text(max_size=12) | st.sampled_from(["x" * 300, "p" * 9000])


def _records(text: st.SearchStrategy[str], sizes: st.SearchStrategy[int]) -> Any:
    return st.builds(
        LogRecord,
        timestamp=st.sampled_from([0.0, 1_525_881_600.0, 1_525_881_600.25]),
        remote_host=text,
        user=st.none() | text,
        method=text,
        path=text,
        status=st.integers(100, 999),
        bytes=sizes,
        referer=st.none() | text,
        user_agent=st.none() | text,
    )


_SIZES = st.integers(0, 10**6) | st.just(2**63 - 1)
_COLLECTED = st.tuples(
    _records(_PLAIN, _SIZES) | _records(_ODD, _SIZES | st.just(2**64)),
    st.sampled_from(["inode-1", "inode-2", None]),
    st.integers(0, 2**50),
)
_PLAIN_COLLECTED = st.tuples(
    _records(_PLAIN, _SIZES), st.sampled_from(["inode-1", None]), st.integers(0, 2**50)
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(_PLAIN_COLLECTED, min_size=1, max_size=6)
    | st.lists(_COLLECTED, min_size=1, max_size=6),
    st.sampled_from(["web-1", "t\tab", "s" * 300, ""]),
)
def test_parsed_hits_are_the_hits_the_lines_make(collected: list[Any], source: str) -> None:
    """The batch a tail hands a store: its hits are those `hit_from_record` builds (ids of
    the file and offset, or drawn once for standard input), and its COPY text, written
    straight from the lines, is what `copy_rows` writes of those hits."""
    from website_monitor.logs.codec import hit_id, hit_id_prefix
    from website_monitor.logs.monitor import hit_from_record
    from website_monitor.logs.parsed import ParsedHits
    from website_monitor.logs.store import copy_rows

    def prefix(fingerprint: str) -> str:
        return hit_id_prefix(source, fingerprint)

    hits = ParsedHits(source, collected, prefix)
    built = list(hits)
    assert len(hits) == len(built) == len(collected)
    assert hits[:] == built and hits[-1] == built[-1]
    for hit, (record, fingerprint, offset) in zip(built, collected, strict=True):
        expected_id = hit.event_id if fingerprint is None else hit_id(prefix(fingerprint), offset)
        assert hit == hit_from_record(record, source, expected_id)
    assert hits.copy_text() == copy_rows(built)


@pytest.mark.parametrize("clock", ["log", "wall"])
def test_lines_dated_before_1970_or_from_9000_are_counted_not_stored(
    clock: str, tmp_path: Path
) -> None:
    """No store keeps such a time, and through Kafka one such row would have a whole hits
    message refused: the tail counts these lines as incorrect, whatever the clock."""
    log = tmp_path / "access.log"
    write_log(log, 3)
    with log.open("a") as out:
        out.write('10.0.0.9 - - [31/Dec/1969:23:59:59 +0000] "GET /old HTTP/1.1" 200 1\n')
        out.write('10.0.0.9 - - [31/Dec/9999:23:59:59 -0100] "GET /late HTTP/1.1" 200 1\n')
    url = f"sqlite:///{tmp_path}/hits.db"
    result = run_tail(log, url, "--clock", clock)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    summaries = [json.loads(line) for line in result.stdout.splitlines()]
    assert sum(s.get("bad_lines", 0) for s in summaries) == 2
    with open_store(url) as store:
        paths = {row["path"] for row in store.query("SELECT path FROM hits")}
    assert paths == {"/p/0", "/p/1", "/p/2"}


def test_a_hit_the_store_refuses_is_dead_lettered_and_counted_alone(
    pg_url: str, tmp_path: Path
) -> None:
    """The store refuses one hit's data: that hit is dead-lettered with the reason and
    counted as not published; the others of its batch are stored and not counted."""
    from website_monitor.deadletters.store import dead_letters

    refuse = "ADD CONSTRAINT wm_test_refuse CHECK (path <> '/p/3')"
    code, errors, _ = tail_into_altered(pg_url, tmp_path, 12, refuse)
    assert code == 1
    assert errors == ["Error: 1 of 12 hits were not published (hint: see the errors above)"]
    with open_store(pg_url) as store:
        assert store.query("SELECT count(*) AS n FROM hits")[0]["n"] == 11
        letters = dead_letters(store, limit=10)
    assert len(letters) == 1 and "wm_test_refuse" in letters[0].reason
