"""Looking after a store: what it holds, rebuilding derived tables, pruning old raw rows.

`wm db status`, `wm db rebuild-rollups` and `wm db prune` are thin commands
over these, and `wm flush` and the direct writer prune once a day when a kept
duration is configured (`keep_raw`, `keep_dead_letters`). Kinds of data are
found through the registry: every kind with derived tables is pruned and
rebuilt the same way.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from website_monitor import features, log
from website_monitor.deadletters import store as dead_letters
from website_monitor.errors import StoreError
from website_monitor.rollups import maintain
from website_monitor.rollups import prune as pruning
from website_monitor.store import Repository
from website_monitor.times import iso

logger = log.get("store")


def _rollups() -> list[tuple[str, Any]]:
    """(feature name, its rollup spec) of every kind with rollups."""
    found = []
    for feature in features.FEATURES:
        rollup = getattr(feature.derived, "rollup", None)
        if rollup is not None:
            found.append((feature.name, rollup))
    return found


def raw_status(repository: Repository) -> dict[str, Any]:
    """Per raw table: the oldest row kept, since when rows are kept, rows not rolled up yet."""
    shown = {}
    for _, rollup in _rollups():
        oldest = repository.scalar(f"SELECT min(timestamp) FROM {rollup.raw}")
        kept = pruning.raw_from(repository, rollup)
        shown[rollup.raw] = {
            "oldest": iso(oldest),
            "kept_from": datetime.fromtimestamp(kept, timezone.utc).isoformat() if kept else None,
            "pending_rollup": maintain.pending(repository, rollup),
        }
    return shown


def table_sizes(repository: Repository) -> list[dict[str, Any]]:
    return [{"name": t.name, "rows": t.rows, "bytes": t.bytes} for t in repository.table_sizes()]


def rebuild(repository: Repository) -> dict[str, int]:
    """Recompute every kind's derived tables from its raw rows; table sizes."""
    counts: dict[str, int] = {}
    for feature in features.FEATURES:
        if feature.derived is not None:
            counts.update(feature.derived.rebuild(repository))
    return counts


def prune(
    repository: Repository, keep_raw: float | None, keep_dead_letters: float | None = None
) -> dict[str, Any]:
    """Delete raw rows older than `keep_raw` (rollups first) and dead letters older than
    `keep_dead_letters` (seconds; None keeps them)."""
    now = maintain.clock(repository)
    done: dict[str, Any] = {"deleted": {}, "kept_from": {}}
    if keep_raw is not None:
        for feature in features.FEATURES:
            if feature.derived is not None:
                pruned = feature.derived.prune(repository, keep_raw, now)
                done["deleted"][pruned.table] = pruned.deleted
                done["kept_from"][pruned.table] = pruned.raw_from
    if keep_dead_letters is not None:
        before = datetime.fromtimestamp(now - keep_dead_letters, timezone.utc)
        done["deleted"]["dead_letters"] = dead_letters.prune(repository, before)
    return done


def prune_if_due(
    repository: Repository, keep_raw: float | None, keep_dead_letters: float | None
) -> None:
    """`prune`, when a duration is configured and the last prune is a day old; a failure is
    logged (the rows are still there, and the next day tries again)."""
    if keep_raw is None and keep_dead_letters is None:
        return
    try:
        now = maintain.clock(repository)
        if not any(pruning.due(repository, rollup, now) for _, rollup in _rollups()):
            return
        done = prune(repository, keep_raw, keep_dead_letters)
    except StoreError as exc:
        logger.warning("old rows not pruned: %s", exc.message, extra={"event": "prune_failed"})
        return
    logger.info("pruned %s", done["deleted"], extra={"event": "pruned", **done})
