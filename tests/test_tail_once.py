"""Exactly once: a line of a log file is one hit, however often it is read and published.

A hit's id derives from the source, the file's fingerprint (its first line) and the
line's byte offset, so reading a file again, its rotated name, or logrotate's copy of
it stores nothing new, through Kafka and `wm flush` as straight into the store.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from click.testing import CliRunner

from tests.services import flush_args
from website_monitor.cli import main
from website_monitor.logs.codec import hit_id, hit_id_prefix
from website_monitor.logs.follower import MAX_LINE, Follower
from website_monitor.store import open_store

BASE = 1_525_881_600  # 2018-05-09T16:00:00Z


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def clf(second: int, path: str = "/api/user", size: int = 100) -> str:
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(BASE + second))
    return f'10.0.0.{second % 7} - - [{stamp}] "GET {path} HTTP/1.1" 200 {size}'


def write_log(path: Path, seconds: range) -> list[str]:
    lines = [clf(s, f"/section{s % 5}/item") for s in seconds]
    with path.open("a") as fh:
        fh.write("".join(line + "\n" for line in lines))
    return lines


def stored(url: str) -> tuple[int, int]:
    with open_store(url) as repository:
        row = repository.query("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM hits")[0]
    return int(row["n"]), int(row["d"])


def publish(log: Path, *args: str) -> None:
    run(
        "tail", str(log), "--from-start", "--exit-at-eof", "--publish", "--source", "web-1",
        "--no-record-alerts", *args,
    )  # fmt: skip


def test_a_file_published_twice_through_kafka_is_stored_once(
    kafka_bootstrap: str, topic: str, pg_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "access.log"
    lines = write_log(log, range(3000))
    flush = [*flush_args(kafka_bootstrap, topic, pg_url, f"group-{topic}"), "--drain"]
    publish(log, "-b", kafka_bootstrap, "-t", topic)
    run(*flush)
    assert stored(pg_url) == (len(lines), len(lines))

    publish(log, "-b", kafka_bootstrap, "-t", topic)  # the same file again
    run(*flush)
    assert stored(pg_url) == (len(lines), len(lines))

    # Rotated by rename and read under its new name, then the new file: only its lines.
    log.rename(tmp_path / "access.log.1")
    newer = write_log(log, range(3000, 3500))
    publish(tmp_path / "access.log.1", "-b", kafka_bootstrap, "-t", topic)
    publish(log, "-b", kafka_bootstrap, "-t", topic)
    run(*flush)
    total = len(lines) + len(newer)
    assert stored(pg_url) == (total, total)


def test_standard_input_through_kafka_is_stored_with_new_ids_each_time(
    kafka_bootstrap: str, topic: str, pg_url: str
) -> None:
    """Lines from standard input have no place in a file: their `hits` messages carry an id
    per hit, drawn anew, so the same lines piped twice are stored twice."""
    lines = [clf(s, f"/stdin{s % 3}/x") for s in range(2500)]
    flush = [*flush_args(kafka_bootstrap, topic, pg_url, f"group-{topic}"), "--drain"]
    for _ in range(2):
        result = CliRunner().invoke(
            main,
            ["tail", "-", "--publish", "--source", "web-1", "--no-record-alerts",
             "-b", kafka_bootstrap, "-t", topic, "--json"],
            input="\n".join(lines) + "\n",
            catch_exceptions=False,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    run(*flush)
    assert stored(pg_url) == (2 * len(lines), 2 * len(lines))


def test_reading_again_stores_only_what_is_new(store_url: str, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    first = write_log(log, range(1500))
    publish(log, "-d", store_url)
    publish(log, "-d", store_url)
    assert stored(store_url) == (len(first), len(first))

    more = write_log(log, range(1500, 1800))  # the file grew: its new lines are new hits
    publish(log, "-d", store_url)
    assert stored(store_url) == (len(first) + len(more),) * 2

    # logrotate's copy (copytruncate) holds the same lines at the same offsets.
    shutil.copy(log, tmp_path / "access.log-20180509")
    publish(tmp_path / "access.log-20180509", "-d", store_url)
    assert stored(store_url) == (len(first) + len(more),) * 2

    # Another source reading the same file: other hits.
    run(
        "tail", str(log), "--from-start", "--exit-at-eof", "--publish", "--source", "web-2",
        "--no-record-alerts", "-d", store_url,
    )  # fmt: skip
    assert stored(store_url) == (2 * (len(first) + len(more)),) * 2


def test_a_truncated_file_written_anew_is_new_hits(store_url: str, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    first = write_log(log, range(100))
    publish(log, "-d", store_url)
    log.write_text("")
    second = write_log(log, range(200, 300))  # same offsets, other content
    publish(log, "-d", store_url)
    assert stored(store_url) == (len(first) + len(second),) * 2


def test_offsets_are_byte_offsets_whatever_the_bytes(tmp_path: Path) -> None:
    """Invalid UTF-8, CRLF, multi-byte characters, an over-long line and an unterminated
    last line: each line's offset is where its bytes start in the file."""
    pieces = [
        clf(1).encode() + b"\r\n",
        clf(2, "/caf\xc3\xa9").encode() + b"\n",
        clf(3, "/bad\xff\xfe").encode() + b"\n",
        b"x" * (MAX_LINE + 10) + b"\n",
        b"\n",
        clf(4).encode(),
    ]
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(pieces))
    starts = [sum(len(p) for p in pieces[:i]) for i in range(len(pieces))]
    seen: list[int] = []
    fingerprints = set()
    with Follower([str(log)], from_start=True, positions=True) as follower:
        for chunk in follower.poll() + follower.poll(final=True):
            assert chunk.offsets is not None and len(chunk.offsets) == len(chunk.lines)
            seen.extend(chunk.offsets)
            if chunk.lines:
                fingerprints.add(chunk.fingerprint)
    assert seen == starts
    assert len(fingerprints) == 1 and None not in fingerprints


def test_hit_ids_are_uuids_that_name_the_place() -> None:
    import uuid

    prefix = hit_id_prefix("web-1", "abc")
    ids = {hit_id(prefix, offset) for offset in (0, 1, 2**40)}
    assert len(ids) == 3
    for text in ids:
        assert str(uuid.UUID(text)) == text and uuid.UUID(text).version == 8
    assert hit_id_prefix("web-2", "abc") != prefix != hit_id_prefix("web-1", "abd")


_HIT = {
    "kind": "hit", "v": 1, "timestamp": "2018-05-09T16:00:01+00:00", "source": "web-1",
    "remote_host": "10.0.0.1", "user": None, "method": "GET", "path": "/a/b?c=1",
    "section": "/a", "status": 200, "bytes": 512,
    "event_id": "0d9c1b2e-4a1f-8c3d-9e2f-00000000002a", "referer": None, "user_agent": "curl/8",
}  # fmt: skip
_ODD_VALUES = [
    None, "", "\x00", "x" * 256, "x" * 9000, 0, 99, 1000, -1, 2**63, 2**63 - 1, True, 1.0,
    "2018-05-09T16:00:01Z", "2018-05-09 16:00:01", "2018-05-09T18:00:01+02:00", "1969-12-31T23:59:59Z",
    "not-a-uuid", "0D9C1B2E-4A1F-8C3D-9E2F-00000000002A", [], {}, "probe", 2,
]  # fmt: skip


def _outcome(decoder: object, raw: bytes) -> tuple[str, str]:
    from website_monitor.errors import DecodeError

    try:
        return ("event", repr(decoder(raw, fallback_id=None)))  # type: ignore[operator]
    except DecodeError as exc:
        return ("error", exc.reason)


def test_the_fast_hit_decoder_accepts_only_what_the_slow_one_does() -> None:
    """Every field set to each odd value, or left out, or an unknown field added: the fast
    path builds the very hit the field-by-field decoder builds, or leaves it to it."""
    import json

    from website_monitor.codec import decode, decode_slow
    from website_monitor.logs.codec import decode_fast

    variants = [dict(_HIT), {**_HIT, "extra": 1}]
    for name in _HIT:
        variants.append({k: v for k, v in _HIT.items() if k != name})
        variants.extend({**_HIT, name: value} for value in _ODD_VALUES)
    taken = 0
    for variant in variants:
        raw = json.dumps(variant).encode()
        expected = _outcome(decode_slow, raw)
        assert _outcome(decode, raw) == expected, variant
        quick = decode_fast(raw, None)
        if quick is not None:
            taken += 1
            assert expected == ("event", repr(quick)), variant
    assert taken > 20  # the valid variants did take the fast path


def test_batch_messages_decode_whole_or_not_at_all() -> None:
    """A `batch` message (what `wm tail --publish -b` sent before `hits` messages) holds
    whole hit documents: they decode to the hits the single messages hold, fast or field
    by field; one bad hit refuses the whole message, saying which."""
    import json

    import pytest

    from website_monitor.codec import decode, decode_many
    from website_monitor.errors import DecodeError

    docs = [{**_HIT, "event_id": hit_id(hit_id_prefix("w", "f"), i)} for i in range(250)]
    singles = [json.dumps(doc).encode() for doc in docs]
    expected = [decode(raw) for raw in singles]
    for count in (1, 100, 250):
        raw = json.dumps({"kind": "batch", "v": 1, "events": docs[:count]}).encode()
        assert decode_many(raw) == expected[:count]
    # The same batch, `kind` last and one hit without an id: the slow path, same hits.
    reordered = {"v": 1, "events": docs[:3], "kind": "batch"}
    assert decode_many(json.dumps(reordered).encode()) == expected[:3]
    assert [e for raw in singles[:3] for e in decode_many(raw)] == expected[:3]
    no_id = {
        "kind": "batch",
        "v": 1,
        "events": [{k: v for k, v in _HIT.items() if k != "event_id"}],
    }
    first = decode_many(json.dumps(no_id).encode(), fallback_id="t/0/5")
    assert first == decode_many(json.dumps(no_id).encode(), fallback_id="t/0/5")
    with pytest.raises(DecodeError, match="field 'event_id' is missing"):
        decode_many(json.dumps(no_id).encode())
    bad = {"kind": "batch", "v": 1, "events": [docs[0], {**docs[1], "status": 42}, docs[2]]}
    with pytest.raises(DecodeError, match=r"^event 1 of the batch: field 'status'"):
        decode_many(json.dumps(bad).encode())
    for events in ([], [docs[0]] * 1001, "x", [bad]):
        with pytest.raises(DecodeError):
            decode_many(json.dumps({"kind": "batch", "v": 1, "events": events}).encode())


def test_a_batch_takes_the_fast_path_only_when_each_id_would() -> None:
    """The fast path checks a batch's ids in one match: an odd id anywhere, even one that
    joins two canonical ids with the separator, leaves the batch to the slow path, which
    decides as it does for the hits one at a time."""
    import json

    from website_monitor.codec import decode, decode_many
    from website_monitor.logs.codec import decode_batch_fast

    docs = [{**_HIT, "event_id": hit_id(hit_id_prefix("w", "f"), i)} for i in range(3)]
    canonical = json.dumps({"kind": "batch", "v": 1, "events": docs}).encode()
    assert decode_batch_fast(canonical) == decode_many(canonical)
    first, last = str(docs[0]["event_id"]), str(docs[2]["event_id"])
    odd_ids = [
        first + "\n" + last, first.upper(), first[:-1], first + "0", "", "not-a-uuid",
        first + "\n",
    ]  # fmt: skip
    for odd in odd_ids:
        events = [docs[0], {**docs[1], "event_id": odd}, docs[2]]
        raw = json.dumps({"kind": "batch", "v": 1, "events": events}).encode()
        assert decode_batch_fast(raw) is None, odd
        one_at_a_time = _outcome(lambda r, fallback_id: decode(r), json.dumps(events[1]).encode())
        batch_outcome = _outcome(lambda r, fallback_id: decode_many(r)[1], raw)
        if one_at_a_time[0] == "error":
            assert batch_outcome[0] == "error"
            assert one_at_a_time[1] in batch_outcome[1], odd
        else:
            assert batch_outcome == one_at_a_time, odd
