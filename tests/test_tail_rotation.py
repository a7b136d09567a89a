"""Rotation and truncation under a writer that keeps writing, as servers do: nothing lost
but what the follower's docstring says can be, and lines longer than MAX_LINE counted once."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from website_monitor.cli import main
from website_monitor.logs.follower import MAX_LINE, Chunk, Follower

#: Every line is this long, so none crosses a page boundary and a reader never sees half a
#: line: a line missing from a file was not written to it, not caught mid-write.
WIDTH = 32


def numbered(n: int) -> str:
    return f"line {n:010d}".ljust(WIDTH - 1, ".")


class Writer(threading.Thread):
    """Appends numbered lines steadily (one write each, O_APPEND) to the file it has open,
    like a web server: a rotation does not move it to the new file until `reopen`."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.written = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            with self.lock:
                for _ in range(20):
                    os.write(self.fd, (numbered(self.written) + "\n").encode())
                    self.written += 1
            time.sleep(0.001)

    def reopen(self) -> None:
        with self.lock:
            os.close(self.fd)
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def stop(self) -> list[str]:
        self.stopping.set()
        self.join()
        os.close(self.fd)
        return [numbered(n) for n in range(self.written)]


def lines_of(chunks: list[Chunk]) -> list[str]:
    return [line for chunk in chunks for line in chunk.lines]


def follow_until(follower: Follower, seen: list[str], count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while len(seen) < count and time.monotonic() < deadline:
        seen += lines_of(follower.poll())
        time.sleep(0.01)


@pytest.mark.parametrize("rotation", ["rename", "delete"])
def test_a_rotated_file_still_written_for_a_second_is_read_to_the_end(
    tmp_path: Path, rotation: str
) -> None:
    """logrotate `create` (or delete and recreate): the server writes to the old file until
    it reopens its log, here a second later (nginx after USR1)."""
    log = tmp_path / "access.log"
    writer = Writer(log)
    seen: list[str] = []
    with Follower([str(log)], from_start=True) as follower:
        writer.start()
        time.sleep(0.2)
        seen += lines_of(follower.poll())
        if rotation == "rename":
            os.rename(log, tmp_path / "access.log.1")
        else:
            log.unlink()
        log.touch()  # logrotate's create
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:  # the new file is found; the old one still grows
            seen += lines_of(follower.poll())
            time.sleep(0.01)
        writer.reopen()
        time.sleep(0.3)
        written = writer.stop()
        follow_until(follower, seen, len(written))
    assert len(seen) == len(written)
    assert sorted(seen) == written


def test_a_rotated_file_is_closed_once_idle_for_rotate_wait(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text("a\n")
    now = [0.0]
    with Follower([str(log)], from_start=True, rotate_wait=5, clock=lambda: now[0]) as follower:
        assert lines_of(follower.poll()) == ["a"]
        os.rename(log, tmp_path / "access.log.1")
        log.write_text("new 1\n")
        chunks = follower.poll()
        assert [(c.key, c.lines, c.reset, c.done) for c in chunks] == [
            (f"{log} #2", ["new 1"], True, False)
        ]
        with (tmp_path / "access.log.1").open("a") as old:
            old.write("b\n")
            old.flush()
            now[0] = 4.0
            assert [(c.key, c.lines) for c in follower.poll()] == [(str(log), ["b"])]
            now[0] = 8.9  # 4.9 s without growth
            assert follower.poll() == []
            old.write("c")  # unterminated: returned when the file is closed
            old.flush()
            now[0] = 9.0
            assert follower.poll() == []
            now[0] = 14.0  # 5 s without growth: read to the end and closed
            assert [(c.key, c.lines, c.done) for c in follower.poll()] == [(str(log), ["c"], True)]
            old.write("d\n")  # too late: the documented loss
            old.flush()
            now[0] = 30.0
            assert follower.poll() == []


def copytruncate(log: Path, copy: Path) -> None:
    """What logrotate's copytruncate does: copy the file, then truncate it."""
    shutil.copyfile(log, copy)
    with log.open("r+b") as fh:
        fh.truncate(0)


def test_copytruncate_under_a_steady_writer_loses_only_lines_in_neither_file(
    tmp_path: Path,
) -> None:
    """Lines written between the copy and the truncate that were not read yet are in
    neither file: the only ones the follower may lose. Everything else is read once."""
    log = tmp_path / "access.log"
    writer = Writer(log)
    seen: list[str] = []
    copies = [tmp_path / f"access.log.{k}" for k in range(1, 6)]
    with Follower([str(log)], from_start=True) as follower:
        writer.start()
        for copy in copies:
            deadline = time.monotonic() + 0.4
            while time.monotonic() < deadline:
                seen += lines_of(follower.poll())
                time.sleep(0.02)  # a poll interval: lines written meanwhile wait unread
            copytruncate(log, copy)
        time.sleep(0.2)
        written = writer.stop()
        seen += lines_of(follower.poll(final=True))
    in_files = {line for path in [*copies, log] for line in path.read_text().splitlines()}
    assert len(seen) == len(set(seen)), "a line was read twice"
    assert set(seen) <= set(written)
    lost = set(written) - set(seen)
    assert not lost & in_files, f"{len(lost & in_files)} lines lost that are in the files"
    assert len(in_files) > 0.9 * len(written)  # the test wrote, copied and truncated for real


def test_truncated_and_refilled_past_the_offset_between_two_polls(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text("".join(f"{numbered(n)}\n" for n in range(10)))
    with Follower([str(log)], from_start=True) as follower:
        assert len(lines_of(follower.poll())) == 10
        copytruncate(log, tmp_path / "access.log.1")
        refill = [f"new {n}" for n in range(100)]  # longer than what was read
        log.write_text("".join(f"{line}\n" for line in refill))
        chunks = follower.poll()
    assert chunks[-1].reset
    assert lines_of(chunks) == refill


def test_what_was_not_read_before_a_truncation_is_read_from_the_copy(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text("one\ntw")
    with Follower([str(log)], from_start=True) as follower:
        assert lines_of(follower.poll()) == ["one"]
        with log.open("a") as fh:
            fh.write("o\nthree\n")  # written, not read yet
        copytruncate(log, tmp_path / "access.log-20260101")
        log.write_text("four\n")
        assert lines_of(follower.poll()) == ["two", "three", "four"]
        # Truncated by hand (no copy): the unfinished line read so far is returned as it is.
        with log.open("a") as fh:
            fh.write("five\nsi")
        assert lines_of(follower.poll()) == ["five"]
        with log.open("r+b") as fh:
            fh.truncate(0)
        assert lines_of(follower.poll()) == ["si"]


def long_lines_log() -> tuple[bytes, list[tuple[str, int]]]:
    """A log with lines around MAX_LINE bytes: its bytes, and (start, length) of each line
    as the follower returns it (cut to MAX_LINE)."""
    sizes = [10, MAX_LINE + 1, 5, 3 * MAX_LINE + 17, MAX_LINE, MAX_LINE - 1, 2 * MAX_LINE, 7]
    data = b""
    expected = []
    for n, size in enumerate(sizes):
        body = (chr(ord("a") + n) * size).encode()
        data += body + b"\n"
        expected.append((chr(ord("a") + n), min(size, MAX_LINE)))
    return data, expected


def test_a_line_longer_than_max_line_is_returned_once_cut(tmp_path: Path) -> None:
    data, expected = long_lines_log()
    path = tmp_path / "access.log"
    path.write_bytes(data)
    with Follower([str(path)], from_start=True) as follower:
        lines: list[str] = []
        for _ in range(20):
            lines += lines_of(follower.poll())
    assert [(line[:1], len(line)) for line in lines] == expected
    with path.open("rb") as stdin, Follower(["-"], stdin=stdin) as follower:
        lines = []
        deadline = time.monotonic() + 30
        while not follower.streams_done and time.monotonic() < deadline:
            lines += lines_of(follower.poll())
            time.sleep(0.01)
        lines += lines_of(follower.poll())
    assert [(line[:1], len(line)) for line in lines] == expected


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_wm_tail_counts_a_long_line_once(tmp_path: Path, source: str) -> None:
    good = '10.0.0.1 - - [09/May/2018:16:00:0{} +0000] "GET /a HTTP/1.1" 200 5'
    data = (good.format(1) + "\n").encode() + b"x" * (3 * MAX_LINE) + b"\n"
    data += (good.format(2) + "\n").encode()
    path = tmp_path / "access.log"
    path.write_bytes(data)
    args = ["tail", "--json", "--from-start", "--exit-at-eof"]
    if source == "file":
        result = CliRunner().invoke(main, [*args, str(path)])
    else:
        result = CliRunner().invoke(main, [*args, "-"], input=data)
    assert result.exit_code == 0, result.output
    [summary] = [json.loads(line) for line in result.stdout.splitlines()]
    assert (summary["hits"], summary["bad_lines"]) == (2, 1)


def test_rotate_wait_is_a_setting_like_the_others(tmp_path: Path) -> None:
    from website_monitor import config

    toml = tmp_path / "wm.toml"
    toml.write_text('[tail]\nrotate_wait = "2s"\n')
    assert config.resolve(config_file=toml, env={}).tail.rotate_wait == 2.0
    assert config.resolve(env={"WM_TAIL_ROTATE_WAIT": "750ms"}).tail.rotate_wait == 0.75
    assert config.resolve(env={}).tail.rotate_wait == 5.0
    result = CliRunner().invoke(main, ["tail", str(tmp_path / "a.log"), "--rotate-wait", "soon"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: invalid duration 'soon' (hint:")
