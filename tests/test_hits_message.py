"""The `hits` message (`logs.bulk`): what `wm tail --publish -b` sends, and what the flush
reads of it. Decoded, its rows are the very hits the tail stores without Kafka; it decodes
whole or not at all, saying which row is wrong; the fast path accepts only what the
field-by-field decoder accepts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from website_monitor.codec import decode_many
from website_monitor.errors import DecodeError
from website_monitor.logs.bulk import ROW_FIELDS, decode_hits_fast
from website_monitor.logs.codec import MAX_PATH_LENGTH, hit_id, hit_id_prefix
from website_monitor.logs.formats import LogRecord
from website_monitor.logs.monitor import hit_from_record
from website_monitor.logs.publish import MESSAGE_BYTES, hits_messages

BASE = 1_525_881_600.0  # 2018-05-09T16:00:00Z
ODD_RECORDS = [
    LogRecord(BASE + 0.5, "10.0.0.1", None, "GET", "/api/x?y=1", 200, 5),
    LogRecord(BASE, "h\x00st", "", "", "", 503, 2**64, "-", "curl\x00"),
    LogRecord(BASE, "x" * 300, "u" * 300, "M" * 70, "/" + "p" * MAX_PATH_LENGTH, 404, 0,
              "r" * (MAX_PATH_LENGTH + 1), "a" * 5000),
    LogRecord(BASE + 1, "::1", "bob", "POST", "http://h.example/a/b", 301, 1, None, None),
    LogRecord(0, "ünï", "ü", "GET", "/ü/€", 200, 2**63 - 1, "é", "\u2028"),
]  # fmt: skip


def prefix_of(fingerprint: str) -> str:
    return hit_id_prefix("web-1", fingerprint)


def stored(records: list[LogRecord], source: str, fingerprint: str | None) -> list[Any]:
    """The hits the tail stores without Kafka (ids as `HitPublisher` gives them)."""
    return [
        hit_from_record(r, source, None if fingerprint is None else hit_id(prefix_of(fingerprint), i * 100))
        for i, r in enumerate(records)
    ]  # fmt: skip


@pytest.mark.parametrize("source", ["web-1", "s" * 300, "\x00", ""])
def test_the_rows_decode_to_the_hits_the_store_path_builds(source: str) -> None:
    """Long values and NULs cut and replaced, empty ones named "-", as the store path does;
    an id from the file's prefix and the line's offset."""
    collected = [(r, "inode-1", i * 100) for i, r in enumerate(ODD_RECORDS)]
    messages = hits_messages(source, collected, prefix_of)
    assert len(messages) == 1 and messages[0].startswith(b'{"kind":"hits","v":1,')
    assert decode_many(messages[0]) == stored(ODD_RECORDS, source, "inode-1")


def test_standard_input_hits_carry_their_ids_and_files_keep_their_own_prefix() -> None:
    records = ODD_RECORDS[:2] * 3
    collected = [
        (records[0], "a", 0), (records[1], "a", 100),  # file a
        (records[2], "b", 0),  # file b
        (records[3], None, 0), (records[4], None, 0),  # standard input: new ids
        (records[5], "a", 200),
    ]  # fmt: skip
    messages = hits_messages("web-1", collected, prefix_of)
    assert len(messages) == 4  # a run of lines from one file is one message
    hits = [hit for raw in messages for hit in decode_many(raw)]
    assert [h.event_id for h in hits[:3]] == [
        hit_id(prefix_of("a"), 0), hit_id(prefix_of("a"), 100), hit_id(prefix_of("b"), 0),
    ]  # fmt: skip
    assert len({h.event_id for h in hits[3:5]}) == 2
    assert hits[5].event_id == hit_id(prefix_of("a"), 200)
    assert b'"event_ids":[' in messages[2] and b'"id_prefix"' not in messages[2]


def test_messages_hold_at_most_1000_hits_and_256_kib() -> None:
    records = [
        LogRecord(BASE + i // 7, "10.0.0.1", None, "GET", f"/a/{i}", 200, i, None, "a" * 100)
        for i in range(2500)
    ]
    collected = [(r, "f", i * 400) for i, r in enumerate(records)]
    messages = hits_messages("w", collected, prefix_of)
    assert [len(decode_many(raw)) for raw in messages] == [1000, 1000, 500]
    long = [(r._replace(path="/" + "p" * 8000), "f", i) for i, (r, _, _) in enumerate(collected)]
    messages = hits_messages("w", long[:300], prefix_of)  # over 256 KiB: split in halves
    assert len(messages) > 1 and all(len(raw) <= MESSAGE_BYTES for raw in messages)
    assert [h.path for raw in messages for h in decode_many(raw)] == [
        r.path for r, _, _ in long[:300]
    ]


_ID_PREFIX = hit_id_prefix("web-1", "f")
_ROW = [BASE, "10.0.0.1", None, "GET", "/a/b?c=1", 200, 512, None, "curl/8"]
_MESSAGE = {
    "kind": "hits", "v": 1, "source": "web-1", "id_prefix": _ID_PREFIX, "offsets": [0, 90],
    "rows": [_ROW, _ROW],
}  # fmt: skip
_ODD_VALUES = [
    None, "", "\x00", "x" * 256, "x" * 9000, 0, 99, 1000, -1, 2**63, 2**63 - 1, 2**64, True,
    1.0, 1.5, -0.5, 2.3e11, "2018-05-09T16:00:01Z", "not-a-uuid", [], {}, [0], "hits", 2,
    _ID_PREFIX.upper(), _ID_PREFIX[:-1], "0d9c1b2e-4a1f-8c3d-9e2f-00000000002a",
]  # fmt: skip


def _outcome(raw: bytes) -> tuple[str, str]:
    try:
        return ("hits", repr(decode_many(raw)))
    except DecodeError as exc:
        return ("error", exc.reason)


def _slow(raw: bytes) -> tuple[str, str]:
    from website_monitor.codec import parse_object
    from website_monitor.logs.bulk import decode_hits

    try:
        return ("hits", repr(decode_hits(parse_object(raw))))
    except DecodeError as exc:
        return ("error", exc.reason)


def test_the_fast_path_accepts_only_what_the_slow_one_does() -> None:
    """Every field of the message and of a row set to each odd value, or left out, or one
    added: the fast path builds the very hits the field-by-field decoder builds, or leaves
    the message to it; the slow path refuses with a reason naming the row."""
    variants: list[dict[str, Any]] = [dict(_MESSAGE), {**_MESSAGE, "extra": 1}]
    ids = {**_MESSAGE, "event_ids": ["0d9c1b2e-4a1f-8c3d-9e2f-00000000002a"] * 2}
    del ids["id_prefix"], ids["offsets"]
    variants.append(ids)
    for name in (*_MESSAGE, "event_ids"):
        variants.append({k: v for k, v in _MESSAGE.items() if k != name})
        variants.extend({**_MESSAGE, name: value} for value in _ODD_VALUES)
        variants.extend({**ids, name: [value, value]} for value in _ODD_VALUES)
    for index in range(len(ROW_FIELDS)):
        variants.append({**_MESSAGE, "rows": [_ROW, _ROW[:index] + _ROW[index + 1 :]]})
        for value in _ODD_VALUES:
            row = list(_ROW)
            row[index] = value
            variants.append({**_MESSAGE, "rows": [_ROW, row]})
    variants.append({**_MESSAGE, "rows": [_ROW, [*_ROW, None]]})
    taken = refused = 0
    for variant in variants:
        raw = json.dumps(variant).encode()
        expected = _outcome(raw)
        version = variant.get("v", 1)
        if variant.get("kind") == "hits" and version == 1 and version is not True:
            assert expected == _slow(raw), variant
        quick = decode_hits_fast(raw)
        if quick is not None:
            taken += 1
            assert expected == ("hits", repr(quick)), variant
        elif expected[0] == "error":
            refused += 1
    assert taken > 20 and refused > 100  # both paths were taken
    bad_row = {**_MESSAGE, "rows": [_ROW, [*_ROW[:5], 42, *_ROW[6:]]]}
    with pytest.raises(DecodeError, match=r"^row 1: field 'status'"):
        decode_many(json.dumps(bad_row).encode())


def test_a_hits_message_with_kind_last_is_read_field_by_field() -> None:
    raw = json.dumps({k: _MESSAGE[k] for k in reversed(list(_MESSAGE))}).encode()
    assert decode_many(raw) == decode_many(json.dumps(_MESSAGE).encode())
    assert len(decode_many(raw)) == 2


def test_bad_hits_messages_are_dead_lettered_whole_and_the_next_ones_stored(
    kafka_bootstrap: str, topic: str, pg_url: str
) -> None:
    """Through a real broker and `wm flush`: each hostile `hits` message, between two good
    ones, is kept as a dead letter with the reason naming what is wrong (the raw bytes
    kept); every good one is stored; nothing is lost and nothing stalls."""
    from tests.test_hostile import produce_large
    from tests.test_pipeline import flush
    from website_monitor.deadletters.store import dead_letters
    from website_monitor.store import open_store

    def message(marker: str, **changes: Any) -> dict[str, Any]:
        prefix = hit_id_prefix("web-1", marker)
        row = [BASE, "10.0.0.1", None, "GET", f"/h/{marker}", 200, 10, None, "curl/8"]
        return {**_MESSAGE, "id_prefix": prefix, "rows": [row, row], **changes}

    def bad_row(index: int, value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
        def change(m: dict[str, Any]) -> dict[str, Any]:
            row = list(m["rows"][1])
            row[index] = value
            return {**m, "rows": [m["rows"][0], row]}

        return change

    hostile: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]], str]] = [
        ("wrong status", bad_row(5, "many"), "row 1: field 'status'"),
        ("10 kB path", bad_row(4, "/" + "p" * 10_000), "row 1: field 'path'"),
        ("NUL in a path", bad_row(4, "/n\x00ul"), "row 1: field 'path'"),
        ("time before 1970", bad_row(0, -5), "row 1: field 'timestamp'"),
        ("a row too short", lambda m: {**m, "rows": [m["rows"][0], [1]]},
         "row 1: not a list of the 9 fields"),
        ("no ids", lambda m: {k: v for k, v in m.items() if k != "offsets"}, "the ids are not"),
        ("an offset short", lambda m: {**m, "offsets": [0]}, "field 'offsets'"),
        ("odd id prefix", lambda m: {**m, "id_prefix": "x" * 24}, "field 'id_prefix'"),
        ("1,001 rows", lambda m: {**m, "rows": m["rows"] * 501, "offsets": list(range(1002))},
         "field 'rows'"),
    ]  # fmt: skip
    values: list[bytes] = []
    for i, (_, change, _) in enumerate(hostile):
        values.append(json.dumps(message(f"good-{i}")).encode())
        values.append(json.dumps(change(message(f"bad-{i}"))).encode())
    values.append(json.dumps(message("last")).encode())
    produce_large(kafka_bootstrap, topic, values)
    flush(kafka_bootstrap, topic, pg_url)
    with open_store(pg_url) as repository:
        paths = sorted(row["path"] for row in repository.query("SELECT path FROM hits"))
        letters = {d.offset: d for d in dead_letters(repository, limit=100) if d.topic == topic}
    good = sorted([f"/h/good-{i}" for i in range(len(hostile))] + ["/h/last"])
    assert paths == sorted(good * 2)  # two rows each; no bad message stored a row
    assert sorted(letters) == [2 * i + 1 for i in range(len(hostile))]
    for i, (name, _, reason) in enumerate(hostile):
        assert letters[2 * i + 1].reason.startswith(reason), (name, letters[2 * i + 1].reason)
        assert letters[2 * i + 1].value == values[2 * i + 1]


def test_a_flush_writes_hits_messages_in_batches_of_about_batch_size_hits(
    kafka_bootstrap: str, topic: str, pg_url: str
) -> None:
    """A message holds up to 1,000 hits: the flush's first poll asks for no more messages
    than `--batch-size` hits fill, then as many as the last poll's messages held, so each
    write is about `--batch-size` hits, not `--batch-size` messages' worth."""
    import threading

    from tests.test_hostile import produce_large
    from website_monitor import config
    from website_monitor.store import open_store
    from website_monitor.transport.kafka import open_consumer
    from website_monitor.transport.sink import Sink

    records = [
        (LogRecord(BASE + i // 10, "10.0.0.1", None, "GET", f"/b/{i}", 200, i), "f", i * 100)
        for i in range(30_000)
    ]
    produce_large(kafka_bootstrap, topic, hits_messages("web-1", records, prefix_of))
    settings = config.resolve(
        {"bootstrap_servers": kafka_bootstrap, "consumer_group_id": f"g-{topic}"}, env={}
    )
    with open_store(pg_url) as repository:
        consumer = open_consumer(settings, topic, session_timeout_ms=6000)
        sink = Sink(consumer, repository, batch_size=5000, on_progress=lambda s: None)
        sizes: list[int] = []
        write = sink._write
        sink._write = lambda batch, stop: sizes.append(len(batch.events)) or write(batch, stop)  # type: ignore[method-assign]
        try:
            stats = sink.run(threading.Event(), drain=True, idle_timeout=2.0)
        finally:
            consumer.close(autocommit=False)
        stored = repository.query("SELECT count(*) AS n FROM hits")[0]["n"]
    assert stats.stored == stored == 30_000
    assert sum(sizes) == 30_000 and max(sizes) <= 5000, sizes
