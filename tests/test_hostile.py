"""Every class of hostile input through every entry point, on real services.

One table: for each entry point (`wm flush` from the broker into PostgreSQL, `wm tail
--publish`, the `wm listen` UDP listener, `wm serve`'s POST /api/logs) each class of input
a busy or hostile world sends, and what must become of it: stored, counted with its reason,
dead-lettered with its reason, or refused with a clear status. Each hostile message is
followed by a good one, which must be stored (nothing stalls), and every message sent is
accounted for: sent = stored + counted + dead-lettered + refused, lost = 0.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from kafka import KafkaProducer

from tests.listen_helpers import kernel_udp_socket, running_listener
from tests.services import wait_until
from tests.test_pipeline import flush
from tests.test_tail_nginx import counted
from tests.traffic import clf
from tests.webserver import serving
from website_monitor.cli import main
from website_monitor.codec import encode
from website_monitor.deadletters.store import dead_letters
from website_monitor.logs import ingest
from website_monitor.logs import web as logs_web
from website_monitor.logs.codec import MAX_PATH_LENGTH, Hit
from website_monitor.probes.codec import MAX_URL_LENGTH, ProbeResult
from website_monitor.store import open_store
from website_monitor.telemetry import llpp, statsd
from website_monitor.telemetry.codec import TelemetryBucket
from website_monitor.telemetry.sender import Sender

STORED, COUNTED, DEAD, REFUSED = "stored", "counted", "dead-lettered", "refused"
NOW = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)
TEN_KB = "x" * 10_000


@dataclass(frozen=True)
class Case:
    """One class of hostile input: what is sent, what must happen to it and why."""

    name: str
    payload: Any
    outcome: str
    reason: str  # what the reason, status or error must contain


@dataclass
class Tally:
    """What an entry point did with each case; `lost` lists what is in no column."""

    outcomes: dict[str, tuple[str, str]] = field(default_factory=dict)
    good_sent: int = 0
    good_stored: int = 0

    def lost(self, cases: list[Case]) -> list[str]:
        return [case.name for case in cases if case.name not in self.outcomes]


# --- wm flush: probes, hits and telemetry topics into PostgreSQL -------------------------


def loads(data: bytes) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(data)
    return value


def probe_message(marker: str) -> dict[str, Any]:
    return loads(encode(ProbeResult(f"https://site/{marker}", NOW, 200, 5.0)))


def hit_message(marker: str) -> dict[str, Any]:
    hit = Hit(NOW, "web1", "10.0.0.1", None, "GET", f"/h/{marker}", "/h", 200, 10)
    return loads(encode(hit))


def bucket_message(marker: str) -> dict[str, Any]:
    bucket = TelemetryBucket(
        name=f"station-{marker}",
        metric_type="station",
        bucket_start=NOW,
        bucket_seconds=60,
        emitted_at=NOW,
        arrivals=1,
    )
    return loads(encode(bucket))


@dataclass(frozen=True)
class Kind:
    """A topic's messages: how to make one, its text field and where it is stored."""

    make: Callable[[str], dict[str, Any]]
    text: str  # the field a marker, a long value or a NUL goes in
    number: str  # a numeric field, for wrong types
    time: str
    longest: int
    select: str  # the stored text field, one row per stored message


KINDS = {
    "probes": Kind(probe_message, "url", "http_status_code", "timestamp", MAX_URL_LENGTH,
                   "SELECT url AS text FROM url_probes"),
    "hits": Kind(hit_message, "path", "status", "timestamp", MAX_PATH_LENGTH,
                 "SELECT path AS text FROM hits"),
    "telemetry": Kind(bucket_message, "name", "arrivals", "bucket_start", 255,
                      "SELECT name AS text FROM telemetry_buckets"),
}  # fmt: skip


def flush_cases(kind: Kind) -> list[Case]:
    """Each case's payload: the message's fields changed from a good one (None: no change)."""

    def changed(**fields: Any) -> Callable[[dict[str, Any]], bytes]:
        def make(message: dict[str, Any]) -> bytes:
            return json.dumps({**message, "event_id": str(uuid.uuid4()), **fields}).encode()

        return make

    def text(value: str) -> Callable[[dict[str, Any]], bytes]:
        return lambda m: changed(**{kind.text: m[kind.text] + value})(m)

    at_limit = "é" * (kind.longest - 40)  # twice as many bytes: past a btree entry's limit
    return [
        Case("malformed JSON", lambda m: b'{"kind": "x", ' + json.dumps(m).encode(), DEAD,
             "value is not valid JSON"),
        Case("not an object", lambda m: b"[1, 2]", DEAD, "not a JSON object"),
        Case("wrong type", changed(**{kind.number: "many"}), DEAD, f"field '{kind.number}'"),
        Case("oversized message (2 MB)", changed(padding="p" * 2_000_000), STORED, ""),
        Case("value at the limit", text(at_limit), STORED, ""),
        Case("10 kB value", text(TEN_KB), DEAD, f"field '{kind.text}'"),
        Case("unknown fields", changed(extra={"nested": [1, 2]}, more=None), STORED, ""),
        Case("NUL byte", text("\x00nul"), DEAD, f"field '{kind.text}'"),
        Case("invalid UTF-8", lambda m: json.dumps(m).encode()[:-2] + b'\xff\xfe"}', DEAD,
             "value is not valid UTF-8"),
        Case("lone surrogate", lambda m: json.dumps(m).encode().replace(b'",', b'\\ud800",', 1),
             DEAD, "unpaired UTF-16 surrogate"),
        Case("future timestamp", changed(**{kind.time: "9999-12-31T23:59:59+00:00"}), DEAD,
             f"field '{kind.time}' is out of range"),
        Case("ancient timestamp", changed(**{kind.time: "1900-01-01T00:00:00+00:00"}), DEAD,
             f"field '{kind.time}' is out of range"),
        Case("not a timestamp", changed(**{kind.time: "yesterday"}), DEAD,
             f"field '{kind.time}' is not an ISO 8601 time"),
        Case("empty value", lambda m: b"", DEAD, "value is not valid JSON"),
        Case("no value (tombstone)", lambda m: None, DEAD, "value"),
        Case("nested 5,000 deep", lambda m: b"[" * 5000 + b"]" * 5000, DEAD,
             "value is not valid JSON"),
        Case("huge number", changed(**{kind.number: 10**400}), DEAD, "value is not valid JSON"),
        Case("number out of range", changed(**{kind.number: -1e300}), DEAD,
             f"field '{kind.number}'"),
        Case("NaN", lambda m: json.dumps(m).encode().replace(b'"v": 1', b'"v": NaN'), DEAD,
             "value is not valid JSON"),
    ]  # fmt: skip


def produce_large(bootstrap: str, topic: str, values: list[bytes]) -> None:
    """In order, to one partition; a producer that may send messages of several MB."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=8 << 20)
    for value in values:
        producer.send(topic, key=b"k", value=value, partition=0)
    producer.flush()
    producer.close()


def through_flush(
    kind: Kind, cases: list[Case], bootstrap: str, topic: str, db: str, *_: Any
) -> Tally:
    values: list[bytes] = []
    for i, case in enumerate(cases):
        values.append(json.dumps(kind.make(f"good-{i}")).encode())
        values.append(case.payload(kind.make(f"case-{i}")))
    produce_large(bootstrap, topic, values)
    flush(bootstrap, topic, db)
    with open_store(db) as repository:
        texts = [row["text"] for row in repository.query(kind.select)]
        letters = {d.offset: d for d in dead_letters(repository, limit=1000) if d.topic == topic}
    tally = Tally(good_sent=len(cases))
    tally.good_stored = sum(any(t.endswith(f"good-{i}") for t in texts) for i in range(len(cases)))
    for i, case in enumerate(cases):
        stored = [t for t in texts if f"case-{i}" in t]
        if 2 * i + 1 in letters:
            letter = letters[2 * i + 1]
            assert letter.value == values[2 * i + 1], case.name  # the raw bytes are kept
            tally.outcomes[case.name] = (DEAD, letter.reason)
        elif len(stored) == 1:
            tally.outcomes[case.name] = (STORED, stored[0][:40])
    assert len(texts) == tally.good_stored + sum(o == STORED for o, _ in tally.outcomes.values())
    return tally


# --- wm tail --publish --------------------------------------------------------------------


def line(i: int, path: str = "/ok") -> bytes:
    return clf(NOW + timedelta(seconds=i), f"{path}/m{i}", 200, 10).encode()


TAIL_CASES = [
    Case("binary garbage", bytes(range(256)).replace(b"\n", b""), COUNTED, "bad_lines"),
    Case("NUL bytes", b"\x00" * 40, COUNTED, "bad_lines"),
    Case("NUL in a valid line", line(1, "/n\x00ul"), STORED, "/n\ufffdul"),
    Case("1 MB line", line(1, "/big") + b"x" * (1 << 20), COUNTED, "bad_lines"),
    Case("10 kB path", line(1, "/p" + TEN_KB), STORED, ""),
    Case("invalid UTF-8", line(1).replace(b"/ok/", b"/bad\xff\xfe/"), STORED, ""),
    Case("truncated line", line(1)[:35], COUNTED, "bad_lines"),
    Case("unparseable date", line(1).replace(NOW.strftime("/%b/").encode(), b"/Foo/"), COUNTED,
         "bad_lines"),
    Case("future date", line(1).replace(str(NOW.year).encode(), b"2999", 1), COUNTED,
         "bad_lines"),
    Case("ancient date", line(1, "/old").replace(str(NOW.year).encode(), b"1999", 1), STORED,
         "late_lines=1"),
    Case("markup", line(1, "/[/x][bold]"), STORED, ""),
    Case("CRLF line end", line(1, "/crlf") + b"\r", STORED, ""),
    Case("escape sequences", line(1, "/\x1b[2J\x1b]0;owned\x07"), STORED, ""),
]  # fmt: skip


def through_tail(_: Any, cases: list[Case], db: str, tmp_path: Path, *__: Any) -> Tally:
    """One `wm tail` per case: a good line, the hostile one, a good line, and a last line
    the writer was cut off in (no newline at the end of the file)."""
    tally = Tally()
    for i, case in enumerate(cases):
        log = tmp_path / f"access-{i}.log"
        log.write_bytes(line(0) + b"\n" + case.payload + b"\n" + line(2) + b"\n" + line(3))
        source = f"tail-{i}"
        result = CliRunner().invoke(main, [
            "tail", str(log), "--json", "--publish", "--from-start", "--exit-at-eof",
            "--source", source, "-d", db,
        ])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output
        in_windows, bad = counted(result.stdout)
        with open_store(db) as repository:
            mark = repository.placeholder
            paths = [r["path"] for r in repository.query(
                f"SELECT path FROM hits WHERE source = {mark}", (source,))]  # fmt: skip
        goods = [p for p in paths if p.startswith("/ok/m")]
        tally.good_sent += 3
        tally.good_stored += len(goods)
        others = [p for p in paths if p not in goods]
        assert in_windows == len(paths) and len(paths) + bad == 4, (case.name, paths, bad)
        late = sum(json.loads(out).get("late_lines", 0) for out in result.stdout.splitlines())
        if others and not bad:
            tally.outcomes[case.name] = (STORED, f"{others[0][:40]} late_lines={late}")
        elif bad == 1 and not others:
            tally.outcomes[case.name] = (COUNTED, "bad_lines")
    return tally


# --- wm listen: UDP datagrams -------------------------------------------------------------


def llpp_header(magic: bytes, name: int, content: int) -> bytes:
    return magic + bytes([name, content])


LISTEN_CASES = [
    Case("wrong magic", llpp_header(b"llppxxxx", 1, 0) + b"a", COUNTED, llpp.WRONG_MAGIC),
    Case("binary garbage", b"\x00\x01\x02\x03garbage", COUNTED, llpp.WRONG_MAGIC),
    Case("truncated", b"llpprrvl\x05\x00ab", COUNTED, llpp.TRUNCATED),
    Case("length mismatch", b"llpprrvl\x01\x00abc", COUNTED, llpp.LENGTH_MISMATCH),
    Case("empty station", llpp_header(b"llpprrvl", 0, 0), COUNTED, llpp.EMPTY_STATION),
    Case("oversized (2 kB)", b"llpp" + b"x" * 2000, COUNTED, llpp.TOO_LARGE),
    Case("oversized (60 kB)", b"y" * 60_000, COUNTED, llpp.TOO_LARGE),
    Case("invalid UTF-8 station", llpp_header(b"llppstts", 2, 0) + b"\xff\xfe", COUNTED,
         llpp.INVALID_UTF8),
    Case("invalid UTF-8 statsd", b"\xc3(:1|c", COUNTED, llpp.INVALID_UTF8),
    Case("statsd syntax", b"no colon here", COUNTED, statsd.SYNTAX),
    Case("statsd value", b"a:one|c", COUNTED, statsd.BAD_VALUE),
    Case("statsd type", b"a:1|zz", COUNTED, statsd.BAD_TYPE),
    Case("statsd name over 255", b"n" * 300 + b":1|c", COUNTED, statsd.BAD_NAME),
    Case("longest station", llpp.encode_arrival("s" * 255), STORED, ""),
    Case("markup station", llpp.encode_arrival("[/x][bold]"), STORED, ""),
]  # fmt: skip


def through_listen(_: Any, cases: list[Case], db: str, *__: Any) -> Tally:
    tally = Tally(good_sent=len(cases))
    with (
        running_listener(db, flush_interval=3600) as listener,
        Sender(listener.address) as sender,
    ):
        port = int(listener.address[1])
        for i, case in enumerate(cases):
            before = Counter(listener.stats.bad)
            sender.send(case.payload)
            sender.arrival("good")
            assert wait_until(lambda: listener.stats.handled >= 2 * (i + 1), 10), case.name
            bad = Counter(listener.stats.bad) - before
            if bad:
                [(reason, n)] = bad.items()
                if n == 1:
                    tally.outcomes[case.name] = (COUNTED, reason)
        assert kernel_udp_socket(port)[1] == 0  # no datagram dropped by the kernel
        listener.flush_now()
    with open_store(db) as repository:
        rows = repository.query(
            "SELECT name, sum(arrivals) AS n FROM telemetry_buckets GROUP BY name"
        )
    arrivals = {r["name"]: int(r["n"]) for r in rows}
    tally.good_stored = arrivals.pop("good", 0)
    for case in cases:
        if case.name not in tally.outcomes and case.outcome == STORED:
            name = llpp.decode(case.payload).station
            if arrivals.get(name) == 1:
                tally.outcomes[case.name] = (STORED, name[:40])
    return tally


# --- wm serve: POST /api/logs -------------------------------------------------------------


def json_body(lines: list[str], source: str = "serve") -> dict[str, Any]:
    return {"json": {"source": source, "lines": lines}}


def text_body(data: bytes, source: str = "serve") -> dict[str, Any]:
    return {"data": data, "params": {"source": source}, "headers": {"Content-Type": "text/plain"}}


GOOD_LINE = clf(NOW, "/ok/serve", 200, 10)
#: The slow client: its headers promise 1,000 bytes, it sends 7 and waits.
SLOW = "slow client"

SERVE_CASES = [
    Case("oversized body (2 MB)", text_body((GOOD_LINE + "\n").encode() * 30_000), REFUSED,
         "413: Error: request body of"),
    Case("too many lines", json_body([GOOD_LINE] * (ingest.MAX_LINES + 1)), REFUSED,
         f"413: Error: {ingest.MAX_LINES + 1} lines is over the limit"),
    Case("wrong content type", {"data": GOOD_LINE, "headers": {"Content-Type": "text/xml"}},
         REFUSED, "415: Error: send application/json or text/plain"),
    Case("bad JSON", {"data": '{"source": "h", "lines": [', "headers": {
        "Content-Type": "application/json"}}, REFUSED, "400: Error: the body is not valid JSON"),
    Case("JSON not an object", {"json": [GOOD_LINE]}, REFUSED,
         "400: Error: the body must be a JSON object"),
    Case("lines of wrong type", {"json": {"source": "h", "lines": [1, None]}}, REFUSED,
         "400: Error: lines must be a list of strings"),
    Case("no source", {"json": {"lines": [GOOD_LINE]}}, REFUSED, "400: Error: source is missing"),
    Case("oversized chunked body", {"chunks": 40, "params": {"source": "c"},
         "headers": {"Content-Type": "text/plain"}}, REFUSED,
         "413: Error: request body is over the limit"),
    Case(SLOW, None, REFUSED, "408: Error: the body did not arrive within 1s"),
    Case("garbage line", json_body(["\x00\x01 garbage \x7f"]), COUNTED, "not a valid"),
    Case("invalid UTF-8 line", text_body(b"10.0.0.1 \xff\xfe garbage\n"), COUNTED,
         "not valid UTF-8"),
    Case("future timestamp", json_body([clf(NOW + timedelta(days=2), "/f", 200, 1)]), COUNTED,
         "timestamp more than an hour ahead"),
    Case("10 kB path", json_body([clf(NOW, "/p" + TEN_KB, 200, 1)]), STORED, ""),
    Case("NUL in a line", json_body([clf(NOW, "/n\x00ul", 200, 1)]), STORED, ""),
    Case("markup path", json_body([clf(NOW, "/[/x][bold]", 200, 1)]), STORED, ""),
]  # fmt: skip


def post_options(payload: dict[str, Any]) -> dict[str, Any]:
    """requests.post's options for a case; `chunks`: a body of that many 64 kB chunks, sent
    without a Content-Length."""
    options = dict(payload)
    if "chunks" in options:
        options["data"] = iter([b"x" * 65536] * options.pop("chunks"))
    return options


def slow_post(base: str) -> tuple[int, str]:
    """A client that sends its headers and part of the body, then nothing."""
    import socket

    host, port = base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /api/logs?source=slow HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: text/plain\r\nContent-Length: 1000\r\n\r\npartial"
        )
        answer = b""
        while not answer.endswith(b"}") and (chunk := sock.recv(4096)):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)["error"]


def through_serve(
    _: Any, cases: list[Case], db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Tally:
    monkeypatch.setattr(logs_web, "BODY_TIMEOUT", 1.0)
    tally = Tally(good_sent=len(cases))
    with serving(db) as served:
        url = served.base + "/api/logs"
        for i, case in enumerate(cases):
            if case.name == SLOW:
                status, error = slow_post(served.base)
                answer: dict[str, Any] = {"error": error}
            else:
                response = requests.post(url, timeout=30, **post_options(case.payload))
                status, answer = response.status_code, response.json()
            if status != 200:
                tally.outcomes[case.name] = (REFUSED, f"{status}: {answer['error']}")
            elif answer["stored"] == 1:
                tally.outcomes[case.name] = (STORED, "")
            elif len(answer["rejected"]) == 1:
                tally.outcomes[case.name] = (COUNTED, answer["rejected"][0]["reason"])
            good = requests.post(
                url,
                timeout=10,
                json={"source": "serve-good", "batch": str(i), "lines": [GOOD_LINE]},
            ).json()
            tally.good_stored += good["stored"]  # fmt: skip
    with open_store(db) as repository:
        sources = Counter(r["source"] for r in repository.query("SELECT source FROM hits"))
    assert sources == {"serve-good": len(cases), "serve": sum(c.outcome == STORED for c in cases)}
    return tally


# --- the table ----------------------------------------------------------------------------

Through = Callable[..., Tally]
ENTRY_POINTS: list[tuple[str, Kind | None, list[Case], Through]] = [
    *((f"flush {name}", kind, flush_cases(kind), through_flush) for name, kind in KINDS.items()),
    ("tail", None, TAIL_CASES, through_tail),
    ("listen", None, LISTEN_CASES, through_listen),
    ("serve", None, SERVE_CASES, through_serve),
]


@pytest.mark.parametrize(
    ("kind", "cases", "through"),
    [pytest.param(kind, cases, through, id=name) for name, kind, cases, through in ENTRY_POINTS],
)
def test_hostile_input_is_stored_counted_dead_lettered_or_refused(
    kind: Kind | None,
    cases: list[Case],
    through: Through,
    request: pytest.FixtureRequest,
    pg_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if kind is not None:
        bootstrap = request.getfixturevalue("kafka_bootstrap")
        tally = through(kind, cases, bootstrap, request.getfixturevalue("topic"), pg_url)
    else:
        tally = through(None, cases, pg_url, tmp_path, monkeypatch)
    assert tally.lost(cases) == []
    columns = Counter(outcome for outcome, _ in tally.outcomes.values())
    assert sum(columns.values()) == len(cases)  # sent = stored + counted + dead + refused
    for case in cases:
        outcome, reason = tally.outcomes[case.name]
        assert (outcome, case.reason in reason) == (case.outcome, True), (case.name, reason)
    assert tally.good_stored == tally.good_sent  # nothing after a hostile message stalled
