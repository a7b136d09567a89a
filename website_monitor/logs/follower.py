"""Following log files the way `tail -F` does, by polling, without losing lines.

Each path is followed by name. On every poll the files are read to their end
(only complete lines are returned; a partial last line waits for its newline),
then the path is checked:

- the path names another file (rotation by rename and a new file, or delete
  and recreate): the new file is read from its start, and the old one stays
  open and keeps being read, in its own stream of chunks, until it has not
  grown for `rotate_wait` seconds: a server writes to the file it has open
  until it is told to reopen it (nginx after USR1, Apache after a graceful
  restart), which logrotate's `postrotate` does after the rename;
- the path is missing (not yet created, or between rotation steps): the open
  file keeps being read; the path is checked again on the next poll and read
  from its start once it appears;
- the file was truncated (logrotate's copytruncate, `: > file`): it is shorter
  than the offset read, or, refilled past that offset between two polls, it no
  longer holds the bytes read just before it. What had not been read yet is
  then read from logrotate's copy, the file next to it whose name starts with
  the same stem (`access.log.1`, `access.log-20240101`) and that holds those
  same bytes at that offset; then the file is read from its start.

What can be lost, and nothing else:

- copytruncate: the lines written after the end of logrotate's copy and before
  its truncate that had not been read before the truncate. They are in neither
  file (logrotate's own gap, as long as it takes from the end of its copy to
  the truncate). When no copy is found (logrotate's `olddir`, a copy compressed
  or moved before the next poll, a truncation by hand), the lines written
  between the last read and the truncation: at most one poll interval of
  writes while the reader keeps up (it polls again at once after reading
  lines); a line cut by the truncation is then returned as far as it was read
  (it counts as incorrect). Also missed: a truncation refilled past the offset
  with the very same bytes before it, or between the check and the read of one
  poll (microseconds).
- rotation: what is written to a rotated or deleted file more than
  `rotate_wait` after it last grew (the server reopened its log later than
  that), and a file created and replaced again between two polls.

Files present at start are read from their end unless `from_start`; a file
that appears later, from its start. `-` is standard input, read by a
background thread. Bytes that are not UTF-8 are replaced, never fatal. A line
longer than MAX_LINE bytes is returned once, cut to MAX_LINE bytes (the rest
up to its newline is skipped), so one endless line cannot exhaust memory.

With `positions`, each chunk of a file also says where its lines are: the byte
offset of each line and the file's fingerprint, a digest of its first line (up
to FINGERPRINT bytes). The fingerprint stays with the content: a file renamed by
rotation, or logrotate's copy of it, has the same one, and a file truncated and
written anew gets another. `wm tail --publish` derives each hit's id from them,
so reading the same lines again stores nothing new.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import IO

from website_monitor.logs.copies import find_copy

#: Bytes asked of one read; at most MAX_LINE, so only a line begun in an earlier read can be
#: longer than MAX_LINE.
READ_SIZE = 1 << 20
#: At most this much is read from one file per poll, so a large backlog streams through.
POLL_BUDGET = 4 << 20
#: A line longer than this is cut, so one endless line cannot exhaust memory.
MAX_LINE = 1 << 20
#: Seconds a rotated file is still read after it last grew (`wm tail --rotate-wait`).
ROTATE_WAIT = 5.0
#: How many bytes before the read offset are kept to recognise the content read so far: a
#: file truncated and refilled past the offset no longer has them, logrotate's copy does.
MARK = 256
#: At most this many bytes of a file's first line make its fingerprint.
FINGERPRINT = 1024
_ALL = 1 << 62


@dataclasses.dataclass
class Chunk:
    """Lines read from one source (the path followed).

    `file` names the file they come from when it is not the first one opened at the path
    (`access.log #2` after a rotation): a rotated file and its successor are read side by
    side, and each needs its own parser. `reset`: the lines start the file anew (it was
    created or truncated). `done`: the file's last lines; it is closed.
    With the follower's `positions`: `offsets`, the byte offset in the file where each
    line starts, and `fingerprint`, the file's (see the module); None for a stream.
    """

    source: str
    lines: list[str]
    reset: bool = False
    file: str = ""
    done: bool = False
    offsets: list[int] | None = None
    fingerprint: str | None = None

    @property
    def key(self) -> str:
        """The file the lines come from, for state kept per file."""
        return self.file or self.source


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _split(text: str, out: list[str]) -> None:
    if "\r" in text:
        out.extend(line[:-1] if line[-1:] == "\r" else line for line in text.split("\n"))
    else:
        out.extend(text.split("\n"))


def _line_offsets(data: bytes, start: int, out: list[int]) -> None:
    """The offsets of the lines of `data` (complete lines, newlines between them) that
    begins at byte `start` of its file."""
    lengths = [len(piece) + 1 for piece in data.split(b"\n")]
    lengths[-1] = start
    lengths.insert(0, lengths.pop())
    out.extend(itertools.accumulate(lengths))


class _OpenFile:
    """One open file and how far it was read."""

    def __init__(
        self, handle: IO[bytes], name: str, position: int, now: float, positions: bool = False
    ) -> None:
        self.handle = handle
        self.fd = handle.fileno()
        info = os.fstat(self.fd)
        self.identity = (info.st_dev, info.st_ino)
        self.name = name
        self.position = position
        handle.seek(position)
        self.partial = b""
        #: Inside a line longer than MAX_LINE whose start was returned: skip to its newline.
        self.cutting = False
        start = max(0, position - MARK)
        self.mark = os.pread(self.fd, position - start, start) if position else b""
        #: When the file last grew (monotonic), for rotated files.
        self.grew_at = now
        #: With `positions`, the offset of each line read (filled alongside the lines).
        self.offsets: list[int] | None = [] if positions else None
        self._fingerprint: str | None = None

    def take_offsets(self) -> list[int] | None:
        """The offsets of the lines read since the last call (None without `positions`)."""
        offsets = self.offsets
        if offsets is not None:
            self.offsets = []
        return offsets

    def fingerprint(self) -> str | None:
        """The file's fingerprint, once it has a first line (None without `positions`)."""
        if self.offsets is None:
            return None
        if self._fingerprint is None:
            head = os.pread(self.fd, FINGERPRINT, 0)
            end = head.find(b"\n")
            head = head if end < 0 else head[: end + 1]
            if not head:
                return None
            self._fingerprint = hashlib.blake2b(head, digest_size=16).hexdigest()
        return self._fingerprint

    def read(self, out: list[str], budget: int = POLL_BUDGET) -> bool:
        """Read complete lines into `out`; True once the end of the file was reached."""
        read = 0
        while read < budget:
            data = self.handle.read(READ_SIZE)
            if not data:
                return True
            read += len(data)
            self.position += len(data)
            self.mark = data[-MARK:] if len(data) >= MARK else (self.mark + data)[-MARK:]
            self._take(data, out)
            if self.offsets and self._fingerprint is None:
                self.fingerprint()  # now, before the file can change
        return False

    def _take(self, data: bytes, out: list[str]) -> None:
        if self.cutting:
            end = data.find(b"\n")
            if end < 0:
                return
            self.cutting = False
            data = data[end + 1 :]
        data = self.partial + data
        base = self.position - len(data)  # the file offset of data[0]
        offsets = self.offsets
        last = data.rfind(b"\n")
        if last < 0:
            if len(data) > MAX_LINE:
                out.append(_decode(data[:MAX_LINE]))
                if offsets is not None:
                    offsets.append(base)
                self.partial = b""
                self.cutting = True
            else:
                self.partial = data
            return
        start = 0
        first = data.find(b"\n")
        if first > MAX_LINE:  # begun in an earlier read: the others fit in READ_SIZE
            out.append(_decode(data[:MAX_LINE]))
            if offsets is not None:
                offsets.append(base)
            start = first + 1
        self.partial = data[last + 1 :]
        if start <= last:
            _split(_decode(data[start:last]), out)
            if offsets is not None:
                _line_offsets(data[start:last], base + start, offsets)

    def flush(self, out: list[str]) -> None:
        """Return the unterminated last line too."""
        if self.partial:
            out.append(_decode(self.partial).rstrip("\r"))
            if self.offsets is not None:
                self.offsets.append(self.position - len(self.partial))
            self.partial = b""
        self.cutting = False

    def rewritten(self) -> bool:
        """Whether the file was truncated: shorter than the offset read, or other bytes
        before it (truncated and written past it again)."""
        if os.fstat(self.fd).st_size < self.position:
            return True
        mark = self.mark
        return bool(mark) and os.pread(self.fd, len(mark), self.position - len(mark)) != mark

    def restart(self) -> None:
        self.handle.seek(0)
        self.position = 0
        self.partial = self.mark = b""
        self.cutting = False
        self._fingerprint = None  # other content now
        if self.offsets is not None:
            self.offsets = []

    def close(self) -> None:
        self.handle.close()


def _located(chunk: Chunk, read_from: _OpenFile) -> Chunk:
    """`chunk` with where its lines are in `read_from`, when positions are kept."""
    if read_from.offsets is not None:
        chunk.offsets = read_from.take_offsets()
        chunk.fingerprint = read_from.fingerprint()
    return chunk


class _FileSource:
    """One path: the file it names now, and rotated ones still being read."""

    def __init__(
        self,
        path: str,
        from_start: bool,
        rotate_wait: float,
        clock: Callable[[], float],
        positions: bool = False,
    ) -> None:
        self.path = path
        self.positions = positions
        self.rotate_wait = rotate_wait
        self.clock = clock
        self.current: _OpenFile | None = None
        self.rotated: list[_OpenFile] = []
        self.opened = 0
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
        self.opened += 1
        name = "" if self.opened == 1 else f"{self.path} #{self.opened}"
        position = os.fstat(handle.fileno()).st_size if from_end else 0
        self.current = _OpenFile(handle, name, position, self.clock(), self.positions)
        return True

    def poll(self, *, final: bool = False) -> Iterator[Chunk]:
        now = self.clock()
        for old in list(self.rotated):  # their lines are older
            yield from self._drain(old, now, final)
        if self.current is None:
            if not self._open(from_end=False):
                return
            self.reset_pending = True
        current = self.current
        assert current is not None
        lines: list[str] = []
        if current.rewritten():
            recovered = self._recover(current, lines)
            if lines:
                yield _located(Chunk(self.path, lines, file=current.name), recovered)
                lines = []
            current.restart()
            self.reset_pending = True
        if not current.read(lines):
            yield from self._chunk(current, lines)  # more to read: the next poll goes on
            return
        try:
            info = os.stat(self.path)
            replaced = (info.st_dev, info.st_ino) != current.identity
        except OSError:
            replaced = False  # gone for now: keep reading the open file
        if replaced:
            yield from self._chunk(current, lines)
            lines = []
            current.grew_at = now
            self.rotated.append(current)
            self.current = None
            yield from self._drain(current, now, final)
            if not self._open(from_end=False):
                return
            self.reset_pending = True
            current = self.current
            assert current is not None
            if not current.read(lines):
                yield from self._chunk(current, lines)
                return
        if final:
            current.flush(lines)
        yield from self._chunk(current, lines)

    def _recover(self, truncated: _OpenFile, out: list[str]) -> _OpenFile:
        """What was not read before a truncation: from logrotate's copy, or the cut line.
        Returns the file read, which knows where the lines were."""
        copy = find_copy(self.path, truncated.mark, truncated.position, truncated.identity)
        if copy is None:
            truncated.flush(out)
            return truncated
        rest = _OpenFile(copy, truncated.name, truncated.position, 0.0, self.positions)
        rest.partial, rest.cutting = truncated.partial, truncated.cutting
        rest._fingerprint = truncated._fingerprint  # the same content up to here
        rest.read(out, budget=_ALL)
        rest.flush(out)
        rest.close()
        return rest

    def _drain(self, old: _OpenFile, now: float, final: bool) -> Iterator[Chunk]:
        """Read a rotated file on; close it once it has been idle for `rotate_wait`."""
        before = old.position
        lines: list[str] = []
        at_end = old.read(lines, _ALL if final else POLL_BUDGET)
        if old.position != before:
            old.grew_at = now
        done = final or (at_end and now - old.grew_at >= self.rotate_wait)
        if done:
            old.flush(lines)
            old.close()
            self.rotated.remove(old)
        if lines or done:
            yield _located(Chunk(self.path, lines, file=old.name, done=done), old)

    def _chunk(self, current: _OpenFile, lines: list[str]) -> Iterator[Chunk]:
        if lines or self.reset_pending:
            chunk = Chunk(self.path, lines, reset=self.reset_pending, file=current.name)
            yield _located(chunk, current)
            self.reset_pending = False

    def close(self) -> None:
        for old in self.rotated:
            old.close()
        self.rotated = []
        if self.current is not None:
            self.current.close()
        self.current = None


class _StreamSource:
    """Standard input (or any binary stream), read line by line in a daemon thread."""

    def __init__(self, name: str, stream: IO[bytes]) -> None:
        self.path = name
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=100_000)
        self.eof = False
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        cutting = False  # inside a line longer than MAX_LINE whose start was queued
        try:
            for piece in iter(lambda: stream.readline(MAX_LINE), b""):
                if cutting:
                    cutting = not piece.endswith(b"\n")
                    continue
                if len(piece) >= MAX_LINE and not piece.endswith(b"\n"):
                    cutting = True
                self.queue.put(piece)
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
    """Follows several files (and `-` for standard input); `poll()` returns what is new.

    `rotate_wait`: seconds a rotated or deleted file is still read after it last grew.
    `positions`: chunks of files say where their lines are (`Chunk.offsets`, `fingerprint`).
    """

    def __init__(
        self,
        paths: list[str],
        *,
        from_start: bool = False,
        stdin: IO[bytes] | None = None,
        rotate_wait: float = ROTATE_WAIT,
        clock: Callable[[], float] = time.monotonic,
        positions: bool = False,
    ) -> None:
        self.sources: list[_FileSource | _StreamSource] = []
        for path in paths:
            if path == "-":
                if stdin is None:
                    import sys

                    stdin = sys.stdin.buffer
                self.sources.append(_StreamSource("-", stdin))
            else:
                self.sources.append(
                    _FileSource(path, from_start, rotate_wait, clock, positions=positions)
                )

    def poll(self, *, final: bool = False) -> list[Chunk]:
        """Everything new in every source. `final`: also return unterminated last lines,
        and the rest of rotated files, which are closed."""
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
        return [s.path for s in self.sources if isinstance(s, _FileSource) and s.current is None]

    def problems(self) -> list[tuple[str, str]]:
        """(path, reason) for every file that cannot be opened now."""
        return [
            (s.path, s.error or "not open")
            for s in self.sources
            if isinstance(s, _FileSource) and s.current is None
        ]

    def close(self) -> None:
        for source in self.sources:
            source.close()

    def __enter__(self) -> Follower:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
