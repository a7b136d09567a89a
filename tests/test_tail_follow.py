"""Following real files: append, rotation, copytruncate, delete-and-recreate, late creation."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from website_monitor.logs.follower import Chunk, Follower


class Log:
    """A log file written the way servers write: appended lines, flushed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.counter = 0

    def write(self, count: int, *, newline_last: bool = True) -> list[str]:
        lines = []
        for _ in range(count):
            self.counter += 1
            lines.append(f"line {self.counter}")
        text = "\n".join(lines) + ("\n" if newline_last else "")
        with self.path.open("a") as fh:
            fh.write(text)
        return lines


def lines_of(chunks: list[Chunk]) -> list[str]:
    return [line for chunk in chunks for line in chunk.lines]


def test_starts_at_the_end_and_returns_appended_lines(tmp_path: Path) -> None:
    log = Log(tmp_path / "access.log")
    log.write(5)
    with Follower([str(log.path)]) as follower:
        assert lines_of(follower.poll()) == []
        new = log.write(3)
        assert lines_of(follower.poll()) == new
        assert lines_of(follower.poll()) == []


def test_from_start_reads_everything(tmp_path: Path) -> None:
    log = Log(tmp_path / "access.log")
    old = log.write(5)
    with Follower([str(log.path)], from_start=True) as follower:
        assert lines_of(follower.poll()) == old


def test_partial_line_waits_for_its_newline(tmp_path: Path) -> None:
    log = Log(tmp_path / "access.log")
    log.path.write_text("")
    with Follower([str(log.path)]) as follower:
        with log.path.open("a") as fh:
            fh.write("first\nsec")
        assert lines_of(follower.poll()) == ["first"]
        with log.path.open("a") as fh:
            fh.write("ond\r\nthird")
        assert lines_of(follower.poll()) == ["second"]
        assert lines_of(follower.poll(final=True)) == ["third"]


def test_rotation_by_rename_and_new_file(tmp_path: Path) -> None:
    log = Log(tmp_path / "access.log")
    log.path.write_text("")
    seen: list[str] = []
    written: list[str] = []
    with Follower([str(log.path)]) as follower:
        written += log.write(4)
        seen += lines_of(follower.poll())
        written += log.write(3)  # written before the rotation, not yet read
        os.rename(log.path, tmp_path / "access.log.1")
        seen += lines_of(follower.poll())  # the path is missing: the old file is read on
        with (tmp_path / "access.log.1").open("a") as fh:  # the server still writes to it
            fh.write("late 1\n")
        written.append("late 1")
        written += log.write(5)  # the new file
        chunks = follower.poll()
        assert any(chunk.reset for chunk in chunks)
        seen += lines_of(chunks)
        written += log.write(2)
        seen += lines_of(follower.poll())
    assert seen == written


def test_copytruncate(tmp_path: Path) -> None:
    log = Log(tmp_path / "access.log")
    log.path.write_text("")
    seen: list[str] = []
    written: list[str] = []
    with Follower([str(log.path)]) as follower:
        written += log.write(10)
        seen += lines_of(follower.poll())
        shutil.copy(log.path, tmp_path / "access.log.1")
        with log.path.open("r+") as fh:
            fh.truncate(0)
        written += log.write(3)  # shorter than before: detected as truncation
        chunks = follower.poll()
        assert chunks[0].reset
        seen += lines_of(chunks)
        written += log.write(20)
        seen += lines_of(follower.poll())
    assert seen == written


def test_delete_and_recreate(tmp_path: Path) -> None:
    log = Log(tmp_path / "access.log")
    log.path.write_text("")
    seen: list[str] = []
    written: list[str] = []
    with Follower([str(log.path)]) as follower:
        written += log.write(6)
        seen += lines_of(follower.poll())
        log.path.unlink()
        assert lines_of(follower.poll()) == []
        written += log.write(30)  # a new, longer file at the same path
        seen += lines_of(follower.poll())
        written += log.write(1)
        seen += lines_of(follower.poll())
    assert seen == written


def test_missing_at_start_then_appears(tmp_path: Path) -> None:
    log = Log(tmp_path / "later.log")
    with Follower([str(log.path)]) as follower:
        assert follower.poll() == []
        assert follower.missing == [str(log.path)]
        written = log.write(4)  # everything in a file created later is new
        chunks = follower.poll()
        assert chunks[0].reset
        assert lines_of(chunks) == written
        assert follower.missing == []


def test_several_files_and_large_backlog(tmp_path: Path) -> None:
    first, second = Log(tmp_path / "a.log"), Log(tmp_path / "b.log")
    a = first.write(200_000)  # more than one poll reads at once
    b = second.write(3)
    with Follower([str(first.path), str(second.path)], from_start=True) as follower:
        got: dict[str, list[str]] = {str(first.path): [], str(second.path): []}
        for _ in range(100):
            chunks = follower.poll()
            if not chunks:
                break
            for chunk in chunks:
                got[chunk.source] += chunk.lines
    assert got == {str(first.path): a, str(second.path): b}


def test_invalid_utf8_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_bytes(b"ok\n\xff\xfe bad\n")
    with Follower([str(path)], from_start=True) as follower:
        assert lines_of(follower.poll()) == ["ok", "\ufffd\ufffd bad"]


def clf(second: int, path: str = "/api/x") -> str:
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(1_525_881_600 + second))
    return f'127.0.0.1 - - [{stamp}] "GET {path} HTTP/1.1" 200 10'


@pytest.mark.slow
def test_wm_tail_process_counts_every_line_once_through_rotation_and_truncation(
    tmp_path: Path,
) -> None:
    """`wm tail --json` following a file while it is appended, rotated and truncated."""
    path = tmp_path / "access.log"
    path.write_text("")
    env = {**os.environ, "WM_DATA_DIR": str(tmp_path / "data")}
    process = subprocess.Popen(
        [sys.executable, "-m", "website_monitor", "tail", str(path), "--json",
         "--from-start", "--poll-interval", "20ms", "--no-record-alerts"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )  # fmt: skip
    written = 0
    second = 0

    def append(count: int) -> None:
        nonlocal written, second
        with path.open("a") as fh:
            for _ in range(count):
                fh.write(clf(second) + "\n")
                second += 1
        written += count

    try:
        # The follower polls every 20 ms; each pause leaves it 50 polls, so a loaded
        # machine cannot make it miss a step.
        time.sleep(1.5)  # --from-start: lines written before it opened the file count too
        append(50)
        time.sleep(1.0)
        os.rename(path, tmp_path / "access.log.1")
        time.sleep(1.0)
        append(40)  # the new file
        time.sleep(1.0)
        shutil.copy(path, tmp_path / "access.log.2")
        with path.open("r+") as fh:
            fh.truncate(0)
        append(10)
        time.sleep(1.0)
        path.unlink()
        append(25)
        time.sleep(1.5)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    summaries = [json.loads(line) for line in out.splitlines()]
    assert all(s["type"] == "summary" for s in summaries)
    assert sum(s["hits"] for s in summaries) == written
    assert sum(s["late_lines"] + s["bad_lines"] for s in summaries) == 0
    # Windows are by log time: 10 lines per 10-second window, each window once.
    assert [s["hits"] for s in summaries] == [10] * (written // 10) + [written % 10] * bool(
        written % 10
    )
