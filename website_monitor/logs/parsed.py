"""The hits of parsed lines, built only when read: what `wm tail --publish` hands a store.

Straight to PostgreSQL, a hit was built for each line (`hit_from_record`) and
then written out again as COPY text: the two took the tail's only interpreter
as long as reading and parsing the line, while the database server waited for
rows. `ParsedHits` is the batch as a sequence of hits that builds a hit only
when one is read (SQLite's rows, a refused batch event by event) and writes
COPY text straight from the lines (`copy_text`), the same text `store.copy_rows`
writes of the built hits.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from typing import overload

from website_monitor.codec import new_event_id
from website_monitor.logs.codec import Hit, hit_id, hit_ids
from website_monitor.logs.formats import LogRecord, path_keys
from website_monitor.logs.monitor import (
    Collected,
    bounded_already,
    hit_from_record,
    source_name,
)
from website_monitor.store.copytext import NULL


class ParsedHits(Sequence[Hit]):
    """`collected` as hits of `source`, each with the id of its place in its file (the
    prefix `id_prefix` gives the file's fingerprint, then the line's offset) or, read from
    standard input, a new one (drawn once, here)."""

    #: The type of every item (`transport.writer` stores a batch of one type at once).
    event_type = Hit

    def __init__(
        self, source: str, collected: Sequence[Collected], id_prefix: Callable[[str], str]
    ) -> None:
        self.source = source
        self.records: Sequence[LogRecord]
        self.records, fingerprints, offsets = (
            zip(*collected, strict=True) if collected else ((), (), ())
        )
        self._ids: list[str] | None = None
        self._text: str | None = None
        self._prefix: str | None = None
        self._offsets: Sequence[int] = offsets
        one_file = bool(fingerprints) and fingerprints.count(fingerprints[0]) == len(fingerprints)
        if one_file and fingerprints[0] is not None:  # the ids are written with the text
            self._prefix = id_prefix(fingerprints[0])
        if self._prefix is None and fingerprints:
            self._ids = [
                new_event_id() if fingerprint is None else hit_id(id_prefix(fingerprint), offset)
                for fingerprint, offset in zip(fingerprints, offsets, strict=True)
            ]

    def __len__(self) -> int:
        return len(self.records)

    @overload
    def __getitem__(self, index: int) -> Hit: ...

    @overload
    def __getitem__(self, index: slice) -> list[Hit]: ...

    def __getitem__(self, index: int | slice) -> Hit | list[Hit]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return hit_from_record(self.records[index], self.source, self._id(index))

    def __iter__(self) -> Iterator[Hit]:
        return map(hit_from_record, self.records, itertools.repeat(self.source), self._all_ids())

    def _id(self, index: int) -> str:
        if self._ids is not None:
            return self._ids[index]
        return hit_id(self._prefix or "", self._offsets[index])

    def _all_ids(self) -> list[str]:
        if self._ids is not None:
            return self._ids
        return hit_ids(self._prefix or "", self._offsets)

    def copy_text(self) -> str:
        """The hits as COPY text, as `store.copy_rows` writes them: a row per line, straight
        from it, when every value is plain (nearly always); else of the hits built. Written
        once: the tail writes it before handing the batch to its writer thread, whose COPY
        then waits only on the database server."""
        if self._text is None:
            self._text = self._copy_text()
        return self._text

    def _copy_text(self) -> str:
        from website_monitor.logs.store import copy_rows

        records = self.records
        columns = tuple(zip(*records, strict=True))
        if not records or not bounded_already(columns):
            return copy_rows(list(self))
        timestamps, _, users, _, paths, _, _, referers, agents = columns
        nulls = users.count(None) + users.count("") + referers.count(None) + agents.count(None)
        source = source_name(self.source)
        times = {seconds: _iso(seconds) for seconds in set(timestamps)}
        sections = {path: (path_keys(path)[0] or "-") if path else "-" for path in set(paths)}
        ids = self._all_ids()
        text = "".join(
            [
                f"{event_id}\t{times[seconds]}\t{source}\t{host or '-'}\t{user or NULL}"
                f"\t{method or '-'}\t{path or '-'}\t{sections[path]}\t{status}\t{size}"
                f"\t{NULL if referer is None else referer}\t{NULL if agent is None else agent}\n"
                for event_id, (seconds, host, user, method, path, status, size, referer, agent)
                in zip(ids, records, strict=True)
            ]
        )  # fmt: skip
        # A value that needs escaping, or holds a NUL, shows as a tab, line break or
        # backslash beyond COPY's own (11 a row, 1 a row, 1 a NULL).
        if text.count("\t") != 11 * len(records) or text.count("\n") != len(records):
            return copy_rows(list(self))
        if "\x00" in text or "\r" in text or text.count("\\") != nulls:
            return copy_rows(list(self))
        return text


def _iso(seconds: float) -> str:
    """The text `copytext.utc_times` writes of `hit_from_record`'s time."""
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat()
