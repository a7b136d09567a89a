"""Schema migrations: each kind of data keeps an ordered list of named, frozen migrations.

A migration is literal SQL, one text per backend, and never changes once
released (`tests/test_migrations.py` pins a hash of each). A store records what
it applied in `wm_migrations` (kind, name, checksum, when), so kinds add
migrations independently of each other. The runner applies, in one locked
transaction, every migration not yet recorded: kinds in registry order, each
kind's in its own order.

Stores made before migrations were named recorded a single version number in
`wm_schema` (1 to 6); each named migration that replaced one says which
(`legacy_version`), and such a store is recorded as having applied them, with
their original times, before anything new runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from datetime import datetime, timezone

from website_monitor.store.base import AppliedMigration, Reader, SchemaStatus, Transaction


@dataclasses.dataclass(frozen=True)
class Migration:
    """One released change of the schema, as literal SQL for each backend."""

    name: str
    description: str
    postgresql: tuple[str, ...]
    sqlite: tuple[str, ...]
    #: The `wm_schema` version this migration was part of, for stores made before names.
    legacy_version: int | None = None

    def statements(self, backend: str) -> tuple[str, ...]:
        return self.postgresql if backend == "postgresql" else self.sqlite

    @property
    def checksum(self) -> str:
        """A hash of what the migration does: any edit changes it."""
        digest = hashlib.sha256()
        for part in (self.name, *self.postgresql, "\x00", *self.sqlite):
            digest.update(part.encode("utf-8") + b"\x00")
        return digest.hexdigest()


#: (kind of data, its migrations in order), in the order kinds are migrated.
Plan = Sequence[tuple[str, Sequence[Migration]]]

_TABLE = """CREATE TABLE IF NOT EXISTS wm_migrations (
    seq INTEGER PRIMARY KEY,
    feature TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    UNIQUE (feature, name)
)"""


def plan() -> Plan:
    """Every kind's migrations, from the registry."""
    from website_monitor import features

    return [(feature.name, feature.migrations) for feature in features.FEATURES]


#: Serialises migrations (PostgreSQL's advisory lock key; SQLite's write lock does it).
LOCK = 0x776D_7363  # "wmsc"


def apply(tx: Transaction, migrations: Plan | None = None) -> list[str]:
    """Apply, inside `tx`, every migration not yet recorded; `kind/name` of each applied."""
    migrations = plan() if migrations is None else migrations
    tx.lock(LOCK)
    tables = {str(row["name"]) for row in tx.query(tx.dialect.tables_query)}
    tx.execute(_TABLE)
    if "wm_schema" in tables and "wm_migrations" not in tables:
        _adopt_legacy(tx, migrations)
    applied = {
        (r["feature"], r["name"]) for r in tx.query("SELECT feature, name FROM wm_migrations")
    }
    seq = int(tx.scalar("SELECT coalesce(max(seq), 0) FROM wm_migrations"))
    done = []
    for feature, own in migrations:
        for migration in own:
            if (feature, migration.name) in applied:
                continue
            for statement in migration.statements(tx.dialect.name):
                tx.execute(statement)
            seq += 1
            tx.execute(
                "INSERT INTO wm_migrations (seq, feature, name, description, checksum, applied_at)"
                f" VALUES ({tx.dialect.marks(6)})",
                (seq, feature, migration.name, migration.description, migration.checksum, _now()),
            )
            done.append(f"{feature}/{migration.name}")
    return done


def _adopt_legacy(tx: Transaction, migrations: Plan) -> None:
    """Record the migrations a store with `wm_schema` versions already has."""
    versions = {
        int(row["version"]): str(row["applied_at"])
        for row in tx.query("SELECT version, applied_at FROM wm_schema")
    }
    adopted = [
        (versions[m.legacy_version], feature, m)
        for feature, own in migrations
        for m in own
        if m.legacy_version in versions
    ]
    adopted.sort(key=lambda item: item[2].legacy_version or 0)
    for seq, (applied_at, feature, migration) in enumerate(adopted, start=1):
        tx.execute(
            "INSERT INTO wm_migrations (seq, feature, name, description, checksum, applied_at)"
            f" VALUES ({tx.dialect.marks(6)})",
            (seq, feature, migration.name, migration.description, migration.checksum, applied_at),
        )


def read_status(reader: Reader, migrations: Plan | None = None) -> SchemaStatus:
    """Which migrations the store behind `reader` has applied, and which it lacks."""
    backend = reader.dialect.name
    tables = {str(row["name"]) for row in reader.query(reader.dialect.tables_query)}
    if "wm_migrations" in tables:
        rows = reader.query(
            "SELECT seq, feature, name, description, applied_at FROM wm_migrations ORDER BY seq"
        )
        return status(backend, rows, migrations)
    versions: list[int] = []
    if "wm_schema" in tables:
        versions = [int(r["version"]) for r in reader.query("SELECT version FROM wm_schema")]
    return legacy_status(backend, versions, migrations)


def status(
    backend: str, rows: Sequence[dict[str, object]], migrations: Plan | None = None
) -> SchemaStatus:
    """The schema status of a store whose `wm_migrations` holds `rows`."""
    migrations = plan() if migrations is None else migrations
    applied = [
        AppliedMigration(
            seq=int(str(r["seq"])),
            feature=str(r["feature"]),
            name=str(r["name"]),
            description=str(r["description"]),
            applied_at=str(r["applied_at"]),
        )
        for r in rows
    ]
    have = {(a.feature, a.name) for a in applied}
    known = [(feature, m.name) for feature, own in migrations for m in own]
    waiting = [key for key in known if key not in have]
    return SchemaStatus(backend, len(applied), len(applied) + len(waiting), applied, waiting)


def legacy_status(
    backend: str, versions: Sequence[int], migrations: Plan | None = None
) -> SchemaStatus:
    """The status of a store not migrated since `wm_schema` (versions applied there)."""
    migrations = plan() if migrations is None else migrations
    rows = [
        {
            "seq": 0,
            "feature": feature,
            "name": m.name,
            "description": m.description,
            "applied_at": "",
        }
        for feature, own in migrations
        for m in own
        if m.legacy_version in set(versions)
    ]
    return status(backend, rows, migrations)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()
