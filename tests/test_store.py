"""Repositories on real PostgreSQL and SQLite: schema, idempotent writes, dead letters."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg2
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from website_monitor.cli import main
from website_monitor.deadletters.store import DeadLetter, dead_letters
from website_monitor.features import FEATURES
from website_monitor.logs.codec import Hit
from website_monitor.probes.codec import ProbeResult
from website_monitor.probes.queries import count_probes
from website_monitor.probes.store import copy_rows
from website_monitor.store import open_store
from website_monitor.transport.writer import store_events

WHEN = datetime(2026, 11, 23, 10, tzinfo=timezone.utc)


LATEST_VERSION = sum(len(feature.migrations) for feature in FEATURES)


def result(url: str = "https://example.org", **kw: object) -> ProbeResult:
    fields: dict[str, object] = {
        "url": url,
        "timestamp": WHEN,
        "http_status_code": 200,
        "response_time_ms": 12.5,
    }
    fields.update(kw)
    return ProbeResult(**fields)  # type: ignore[arg-type]


def test_schema_is_created_and_versioned(store_url: str) -> None:
    with open_store(store_url) as repository:
        status = repository.schema_status()
        assert status.current == LATEST_VERSION
        assert status.pending == 0
        again = repository.migrate()
        assert again.applied == status.applied


def test_writes_are_idempotent_on_event_id(store_url: str) -> None:
    batch = [
        result(),
        result(url="https://b"),
        result(url="https://c", http_status_code=None, response_time_ms=None, error="dns"),
    ]
    with open_store(store_url) as repository:
        assert store_events(repository, batch) == 3
        assert store_events(repository, batch) == 0
        assert store_events(repository, [*batch, result()]) == 1
        assert count_probes(repository) == 4


def test_all_fields_survive(store_url: str) -> None:
    event = result(
        dns_ms=1.25,
        connect_ms=2.5,
        tls_ms=3.75,
        ttfb_ms=10.0,
        content_match=False,
        error_detail="tab\there\nnewline \\ backslash\r",
    )
    with open_store(store_url) as repository:
        store_events(repository, [event])
        [row] = repository.query("SELECT * FROM url_probes")
    assert row["url"] == event.url
    assert str(row["event_id"]) == event.event_id
    assert row["dns_ms"] == 1.25 and row["connect_ms"] == 2.5 and row["tls_ms"] == 3.75
    assert row["ttfb_ms"] == 10.0
    assert bool(row["content_match"]) is False
    assert bool(row["ok"]) is False
    assert row["error_detail"] == "tab\there\nnewline \\ backslash\r"


def test_sql_injection_lands_as_data(store_url: str) -> None:
    nasty = "https://example.org/?q=1'; DROP TABLE url_probes; --\"\\"
    with open_store(store_url) as repository:
        store_events(repository, [result(url=nasty)])
        [row] = repository.query("SELECT url FROM url_probes")
        assert row["url"] == nasty
    output = CliRunner().invoke(main, ["stats", "-d", store_url, "--url", nasty]).output
    assert '"probes": 1' in output


def test_dead_letters_keep_bytes_position_and_reason(store_url: str) -> None:
    letters = [
        DeadLetter(
            topic="probes",
            partition=1,
            offset=7,
            value=b"\xff\x00raw",
            reason="value is not valid UTF-8",
            key=b"k",
        ),
        DeadLetter(
            topic="probes", partition=1, offset=8, value=None, reason="empty message (no value)"
        ),
    ]
    with open_store(store_url) as repository:
        store_events(repository, [], letters)
        store_events(repository, [], letters)  # redelivered: still once each
        stored = dead_letters(repository)
    assert [(d.topic, d.partition, d.offset, d.value, d.key, d.reason) for d in stored] == [
        ("probes", 1, 7, b"\xff\x00raw", b"k", "value is not valid UTF-8"),
        ("probes", 1, 8, None, None, "empty message (no value)"),
    ]


def test_adopts_a_table_created_by_the_original_tool(pg_url: str) -> None:
    conn = psycopg2.connect(pg_url)
    with conn, conn.cursor() as cur:
        cur.execute("""CREATE TABLE url_probes (id SERIAL PRIMARY KEY, url TEXT NOT NULL,
                       timestamp TIMESTAMPTZ NOT NULL, http_status_code INTEGER NOT NULL,
                       response_time_ms INTEGER NOT NULL)""")
        cur.execute(
            "INSERT INTO url_probes (url, timestamp, http_status_code, response_time_ms)"
            " VALUES ('https://old', now(), 200, 592)"
        )
    conn.close()
    with open_store(pg_url) as repository:
        store_events(
            repository,
            [
                result(
                    url="https://new", http_status_code=None, response_time_ms=None, error="timeout"
                )
            ],
        )
        rows = repository.query("SELECT url, response_time_ms FROM url_probes ORDER BY id")
    assert rows == [
        {"url": "https://old", "response_time_ms": 592.0},
        {"url": "https://new", "response_time_ms": None},
    ]


def test_db_commands(sqlite_url: str) -> None:
    runner = CliRunner()
    status = runner.invoke(main, ["db", "status", "-d", sqlite_url])
    assert status.exit_code == 0
    assert '"version": 0' in status.output and f'"pending": {LATEST_VERSION}' in status.output
    upgrade = runner.invoke(main, ["db", "upgrade", "-d", sqlite_url])
    assert upgrade.output == f"{sqlite_url}: schema version 0 -> {LATEST_VERSION}\n"
    again = runner.invoke(main, ["db", "upgrade", "-d", sqlite_url])
    assert again.output == f"{sqlite_url}: schema is up to date (version {LATEST_VERSION})\n"


def test_db_status_hides_password(pg_url: str) -> None:
    url = pg_url.replace("postgres@", "postgres:not-the-password@")
    output = CliRunner().invoke(main, ["db", "status", "-d", url]).output
    assert "not-the-password" not in output
    assert "postgres:***@" in output


@pytest.mark.parametrize("url", ["sqlite:///", "sqlite://"])
def test_sqlite_url_without_path(url: str) -> None:
    result_ = CliRunner().invoke(main, ["stats", "-d", url])
    assert result_.exit_code == 1
    assert result_.output.startswith("Error: the SQLite connection string names no file")


def reference_copy_rows(probes: list[ProbeResult]) -> str:
    """The COPY text as first written, field by field: what `copy_rows` must equal."""

    def text(value: str | None) -> str:
        if value is None:
            return r"\N"
        return (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )

    def number(value: float | None) -> str:
        return r"\N" if value is None else str(value)

    def flag(value: bool | None) -> str:
        return r"\N" if value is None else ("t" if value else "f")

    def time(value: datetime | None) -> str:
        return r"\N" if value is None else value.isoformat()

    return "".join(
        f"{text(p.event_id)}\t{text(p.url)}\t{p.timestamp.isoformat()}\t"
        f"{number(p.http_status_code)}\t{number(p.response_time_ms)}\t{text(p.error)}\t"
        f"{text(p.error_detail)}\t{flag(p.content_match)}\t{flag(p.ok)}\t"
        f"{number(p.dns_ms)}\t{number(p.connect_ms)}\t{number(p.tls_ms)}\t{number(p.ttfb_ms)}\t"
        f"{text(p.location)}\t{time(p.cert_expires_at)}\t{text(p.cert_issuer)}\t"
        f"{text(p.failed_condition)}\n"
        for p in probes
    )


class OtherDatetime(datetime):
    """A datetime subclass that formats itself: copy_rows must still use its isoformat."""

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        return "1999-01-01T00:00:00+00:00"


_zones = st.sampled_from(
    [
        None,
        timezone.utc,
        timezone(timedelta(0)),
        timezone(timedelta(hours=5, minutes=30)),
        timezone(timedelta(hours=-3, seconds=7)),
        ZoneInfo("Europe/Paris"),
    ]
)
_times = st.datetimes(timezones=_zones) | st.datetimes(timezones=st.just(timezone.utc)).map(
    lambda t: OtherDatetime.fromtimestamp(t.timestamp(), timezone.utc)
)
_strings = st.text(st.sampled_from("ab\\\t\n\r\x85é\u2028"), max_size=6)
_floats = (
    st.none() | st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**20), 10**20)
)


@settings(max_examples=300)
@given(
    st.lists(
        st.builds(
            ProbeResult,
            url=st.sampled_from(["https://example.org/", "https://a.test/x\ty"]) | _strings,
            timestamp=_times,
            http_status_code=st.none() | st.integers(100, 999),
            response_time_ms=_floats,
            event_id=st.uuids().map(str) | _strings,
            error=st.none() | _strings,
            error_detail=st.none() | _strings,
            content_match=st.none() | st.booleans(),
            ok=st.none() | st.booleans(),
            dns_ms=_floats,
            connect_ms=_floats,
            tls_ms=_floats,
            ttfb_ms=_floats,
            location=st.none() | _strings,
            cert_expires_at=st.none() | _times,
            cert_issuer=st.none() | _strings,
            failed_condition=st.none() | _strings,
        ),
        max_size=8,
    )
)
def test_copy_rows_matches_the_field_by_field_text(probes: list[ProbeResult]) -> None:
    assert copy_rows(probes) == reference_copy_rows(probes)


def test_copy_rows_of_generated_batches() -> None:
    """Times with and without microseconds, edge years, errors, a NULL id written as before."""
    probes = [
        result(timestamp=datetime(2026, 11, 23, 10, 0, 0, micro, tzinfo=timezone.utc))
        for micro in (0, 1, 100000, 999999)
    ]
    probes += [
        result(timestamp=datetime(year, 1, 1, tzinfo=timezone.utc)) for year in (1, 999, 9999)
    ]
    probes += [result(http_status_code=None, response_time_ms=None, error="timeout")]
    probes += [result(event_id=None)]
    assert copy_rows(probes) == reference_copy_rows(probes)
    assert copy_rows([]) == ""


@settings(max_examples=300)
@given(
    st.lists(
        st.builds(
            Hit,
            timestamp=_times,
            source=_strings,
            remote_host=st.sampled_from(["10.0.0.1", "a\\b"]) | _strings,
            user=st.none() | _strings,
            method=st.sampled_from(["GET", "PO\tST"]) | _strings,
            path=_strings,
            section=_strings,
            status=st.integers(100, 999),
            size=st.integers(0, 2**63 - 1),
            event_id=st.uuids().map(str),
            referer=st.none() | st.just("") | _strings,
            user_agent=st.none() | _strings,
        ),
        max_size=8,
    )
)
def test_hit_copy_rows_match_the_generic_text(hits: list[Hit]) -> None:
    """The hits' COPY text, by rows when nothing needs escaping and by columns when some
    text does, is what the generic formatter writes for their rows."""
    from website_monitor.logs.store import copy_rows as hit_copy_rows
    from website_monitor.logs.store import hit_row
    from website_monitor.store.copytext import copy_text

    assert hit_copy_rows(hits) == copy_text([hit_row(hit) for hit in hits])


def test_a_batch_of_one_kind_has_its_copy_text_written_ahead_on_postgresql(
    pg_url: str, tmp_path: Path
) -> None:
    """`writer.prepare`, which the flush calls on its polling thread: on PostgreSQL a batch of
    one kind gets the COPY text its writer would write, and is stored the same; a batch of
    several kinds, or on SQLite, is left as it is."""
    from website_monitor.logs.codec import new_hit
    from website_monitor.logs.store import copy_rows as hit_copy_rows
    from website_monitor.transport.writer import Prepared, prepare

    moment = datetime(2026, 12, 6, tzinfo=timezone.utc)
    hits = [
        new_hit(moment, "web", "h", None, "GET", f"/p/{i}", "/p", 200, i, str(uuid.uuid4()),
                None, "a\tb" if i == 1 else None)
        for i in range(3)
    ]  # fmt: skip
    probe = ProbeResult("https://example.org/", moment, 200, 1.0)
    with open_store(pg_url) as postgres, open_store(f"sqlite:///{tmp_path}/s.db") as sqlite:
        prepared = prepare(postgres, list(hits))
        assert isinstance(prepared, Prepared) and prepared == hits
        assert prepared.copy_text() == hit_copy_rows(hits)
        assert store_events(postgres, prepared) == 3
        assert postgres.query("SELECT count(*) AS n FROM hits")[0]["n"] == 3
        mixed = [*hits, probe]
        assert type(prepare(postgres, mixed)) is list
        assert type(prepare(sqlite, list(hits))) is list
