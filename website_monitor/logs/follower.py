"""Following log files the way `tail -F` does, by polling.

Each path is followed by name. On every poll the open file is read to its end
(only complete lines are returned; a partial last line waits for its newline),
then the path is checked:

- the path names another file (rotation by rename and a new file, or delete
  and recreate): the old file is read to its end, closed, and the new one is
  read from its start;
- the file is shorter than what was read (truncation, logrotate's
  copytruncate): reading starts again at offset 0;
- the path is missing (not yet created, or between rotation steps): the old
  file, if any, keeps being read; the path is checked again on the next poll
  and read from its start once it appears.

Files present at start are read from their end unless `from_start`. `-` is
standard input, read by a background thread. Bytes that are not UTF-8 are
replaced, never fatal. A line written between copytruncate's copy and its
truncate is lost (as with any tail); a file truncated and refilled past the
previous size between two polls looks like growth.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import threading
from collections.abc import Iterator
from typing import IO

READ_SIZE = 1 << 20
#: At most this much is read from one file per poll, so a large backlog streams through.
POLL_BUDGET = 4 << 20
#: A line longer than this is cut, so one endless line cannot exhaust memory.
MAX_LINE = 1 << 20


@dataclasses.dataclass
class Chunk:
    """Lines read from one source; `reset` when they start a new file (rotation, truncation)."""

    source: str
    lines: list[str]
    reset: bool = False


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


class _FileSource:
    def __init__(self, path: str, from_start: bool) -> None:
        self.path = path
        self.file: IO[bytes] | None = None
        self.identity: tuple[int, int] | None = None
        self.position = 0
        self.partial = b""
        self.reset_pending = False
        self.error: str | None = None
        self._open(from_end=not from_start)

    def _open(self, *, from_end: bool) -> bool:
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - kept open while following
        except OSError as exc:
            self.error = exc.strerror or type(exc).__name__
            return False
        self.error = None
        stat = os.fstat(handle.fileno())
        self.file = handle
        self.identity = (stat.st_dev, stat.st_ino)
        self.position = stat.st_size if from_end else 0
        handle.seek(self.position)
        self.partial = b""
        return True

    def _close(self) -> None:
        if self.file is not None:
            self.file.close()
        self.file = None

    def _read_available(self, out: list[str], budget: int = POLL_BUDGET) -> bool:
        """Read complete lines into `out`; True once the end of the file was reached."""
        assert self.file is not None
        read = 0
        while True:
            if read >= budget:
                return False
            data = self.file.read(READ_SIZE)
            if not data:
                return True
            read += len(data)
            self.position += len(data)
            data = self.partial + data
            last = data.rfind(b"\n")
            if last < 0:
                self.partial = data if len(data) <= MAX_LINE else b""
                if len(data) > MAX_LINE:
                    out.append(_decode(data[:MAX_LINE]))
                continue
            self.partial = data[last + 1 :]
            text = _decode(data[:last])
            out.extend(line[:-1] if line[-1:] == "\r" else line for line in text.split("\n"))

    def _flush_partial(self, out: list[str]) -> None:
        if self.partial:
            out.append(_decode(self.partial).rstrip("\r"))
            self.partial = b""

    def poll(self, *, final: bool = False) -> Iterator[Chunk]:
        lines: list[str] = []
        if self.file is None:
            if not self._open(from_end=False):
                return
            self.reset_pending = True
        assert self.file is not None
        # Truncated below what was read: start again at the beginning.
        size = os.fstat(self.file.fileno()).st_size
        if size < self.position:
            self.file.seek(0)
            self.position = 0
            self.partial = b""
            self.reset_pending = True
        if not self._read_available(lines):
            yield from self._chunk(lines)  # more to read: the next poll goes on
            return
        try:
            stat = os.stat(self.path)
            replaced = (stat.st_dev, stat.st_ino) != self.identity
        except OSError:
            replaced = False  # gone for now: keep reading the open file
        if replaced:
            self._read_available(lines, budget=1 << 62)
            self._flush_partial(lines)
            yield from self._chunk(lines)
            lines = []
            self._close()
            if self._open(from_end=False):
                self.reset_pending = True
                if not self._read_available(lines):
                    yield from self._chunk(lines)
                    return
        if final:
            self._flush_partial(lines)
        yield from self._chunk(lines)

    def _chunk(self, lines: list[str]) -> Iterator[Chunk]:
        if lines or self.reset_pending:
            yield Chunk(self.path, lines, reset=self.reset_pending)
            self.reset_pending = False

    def close(self) -> None:
        self._close()


class _StreamSource:
    """Standard input (or any binary stream), read line by line in a daemon thread."""

    def __init__(self, name: str, stream: IO[bytes]) -> None:
        self.path = name
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=100_000)
        self.eof = False
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        try:
            for line in iter(lambda: stream.readline(MAX_LINE), b""):
                self.queue.put(line)
        except (OSError, ValueError):
            pass
        self.queue.put(None)

    def poll(self, *, final: bool = False) -> Iterator[Chunk]:
        lines: list[str] = []
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self.eof = True
                break
            lines.append(_decode(item).rstrip("\r\n"))
            if len(lines) >= 10_000:
                break
        if lines:
            yield Chunk(self.path, lines)

    def close(self) -> None:
        pass


class Follower:
    """Follows several files (and `-` for standard input); `poll()` returns what is new."""

    def __init__(
        self, paths: list[str], *, from_start: bool = False, stdin: IO[bytes] | None = None
    ) -> None:
        self.sources: list[_FileSource | _StreamSource] = []
        for path in paths:
            if path == "-":
                if stdin is None:
                    import sys

                    stdin = sys.stdin.buffer
                self.sources.append(_StreamSource("-", stdin))
            else:
                self.sources.append(_FileSource(path, from_start))

    def poll(self, *, final: bool = False) -> list[Chunk]:
        """Everything new in every source. `final`: also return unterminated last lines."""
        chunks: list[Chunk] = []
        for source in self.sources:
            chunks.extend(source.poll(final=final))
        return chunks

    @property
    def streams_done(self) -> bool:
        """Whether every standard-input source reached its end (files never end)."""
        return all(s.eof for s in self.sources if isinstance(s, _StreamSource))

    @property
    def missing(self) -> list[str]:
        return [s.path for s in self.sources if isinstance(s, _FileSource) and s.file is None]

    def problems(self) -> list[tuple[str, str]]:
        """(path, reason) for every file that cannot be opened now."""
        return [
            (s.path, s.error or "not open")
            for s in self.sources
            if isinstance(s, _FileSource) and s.file is None
        ]

    def close(self) -> None:
        for source in self.sources:
            source.close()

    def __enter__(self) -> Follower:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
