"""`wm tail` following a real nginx's access log through logrotate's two ways of rotating,
under steady traffic: `create` (rename, new file, USR1 a second later) and copytruncate."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.nginx import Nginx, Traffic
from tests.services import ServiceUnavailable, wait_until, wm_process
from website_monitor.store import open_store


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    try:
        server = Nginx(tmp_path / "nginx")
    except ServiceUnavailable as exc:
        unavailable(str(exc))
    try:
        yield server
    finally:
        server.stop()


def counted(out: str) -> tuple[int, int]:
    """What `wm tail --json` accounted for: (hits in windows plus late lines, incorrect lines)."""
    objects = [json.loads(line) for line in out.splitlines()]
    summaries = [o for o in objects if o["type"] == "summary"]
    return (
        sum(s["hits"] + s["late_lines"] for s in summaries),
        sum(s["bad_lines"] for s in summaries),
    )


def lines_in(*paths: Path) -> int:
    return sum(len(path.read_bytes().splitlines()) for path in paths)


def wait_until_open(process: subprocess.Popen[str], path: Path) -> None:
    """Until the process has `path` open (it started following it)."""

    def has_open() -> bool:
        fds = Path(f"/proc/{process.pid}/fd")
        with contextlib.suppress(OSError):
            return any(os.path.realpath(fd) == str(path) for fd in fds.iterdir())
        return False

    assert wait_until(has_open, timeout=30, step=0.05), process.communicate()


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return out


@pytest.mark.slow
def test_logrotate_create_while_nginx_writes_to_the_old_file_until_usr1(
    nginx: Nginx, tmp_path: Path
) -> None:
    with wm_process("tail", str(nginx.log), "--from-start", "--json", "--no-record-alerts") as tail:
        wait_until_open(tail, nginx.log)
        traffic = Traffic(nginx.port)
        time.sleep(1.0)
        rotated = nginx.log.with_name("access.log.1")
        os.rename(nginx.log, rotated)
        nginx.log.touch()  # logrotate's create
        at_rename = rotated.stat().st_size
        time.sleep(1.0)  # nginx still writes to access.log.1
        nginx.reopen_logs()  # logrotate's postrotate
        time.sleep(1.0)
        requests = traffic.stop()
        time.sleep(1.0)
        out = stop(tail)
    assert lines_in(rotated, nginx.log) == requests
    assert rotated.stat().st_size > at_rename  # nginx wrote to the old file after the rename
    assert counted(out) == (requests, 0)


@pytest.mark.slow
def test_logrotate_copytruncate_loses_only_what_is_in_neither_file(
    nginx: Nginx, tmp_path: Path
) -> None:
    copies = [nginx.log.with_name(f"access.log.{k}") for k in (1, 2, 3)]
    store = f"sqlite:///{tmp_path / 'wm.db'}"
    with wm_process(
        "tail", str(nginx.log), "--from-start", "--json", "--no-record-alerts",
        "--publish", "-d", store,
    ) as tail:  # fmt: skip
        wait_until_open(tail, nginx.log)
        traffic = Traffic(nginx.port)
        for copy in copies:
            time.sleep(0.7)
            shutil.copyfile(nginx.log, copy)
            with nginx.log.open("r+b") as fh:
                fh.truncate(0)
        time.sleep(0.7)
        requests = traffic.stop()
        time.sleep(1.0)
        out = stop(tail)
    in_files = paths_in(*copies, nginx.log)
    assert len(in_files) > 0.9 * requests
    # What neither file has (written between a copy and its truncate) may be lost, or may
    # have been read before the truncate; all the rest is stored, once. A line cut by a
    # truncation, if one was read half written, counts as incorrect.
    with open_store(store) as repository:
        stored = [str(row["path"]) for row in repository.query("SELECT path FROM hits")]
    twice = sorted(path for path, n in collections.Counter(stored).items() if n > 1)
    assert not twice, f"stored more than once: {twice[:10]}"
    assert not in_files - set(stored), (
        f"in a file, not stored: {sorted(in_files - set(stored))[:10]}"
    )
    assert set(stored) <= traffic.paths()
    hits, incorrect = counted(out)
    assert hits == len(stored)
    assert incorrect <= len(copies)


def paths_in(*files: Path) -> set[str]:
    """The request paths of the lines in `files`."""
    found = set()
    for file in files:
        for line in file.read_text(errors="replace").splitlines():
            request = line.split('"')[1] if line.count('"') >= 2 else ""
            if request.startswith("GET "):
                found.add(request.split(" ")[1])
    return found
