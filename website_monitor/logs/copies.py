"""Finding logrotate's copy of a log it truncated (copytruncate), for `logs.follower`."""

from __future__ import annotations

import os
import stat
from typing import IO


def find_copy(path: str, mark: bytes, position: int, identity: tuple[int, int]) -> IO[bytes] | None:
    """logrotate's copy of the file truncated at `path`, opened: a file beside it, named with
    the same stem, holding the bytes last read (`mark`) just before `position`, and not the
    file itself (`identity`: device and inode). The most recently modified first."""
    if not mark:
        return None
    directory, base = os.path.split(path)
    stem = base.split(".", 1)[0]
    candidates: list[tuple[float, str]] = []
    try:
        with os.scandir(directory or ".") as entries:
            for entry in entries:
                if entry.name == base or not entry.name.startswith(stem):
                    continue
                try:
                    info = entry.stat()
                except OSError:
                    continue
                if (
                    stat.S_ISREG(info.st_mode)
                    and info.st_size >= position
                    and (info.st_dev, info.st_ino) != identity
                ):
                    candidates.append((info.st_mtime, entry.path))
    except OSError:
        return None
    for _, candidate in sorted(candidates, reverse=True):
        try:
            handle = open(candidate, "rb")  # noqa: SIM115 - returned open
        except OSError:
            continue
        if os.pread(handle.fileno(), len(mark), position - len(mark)) == mark:
            return handle
        handle.close()
    return None
