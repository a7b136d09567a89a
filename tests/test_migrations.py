"""Released migrations are frozen: each one's SQL is pinned here by its checksum.

A store records the checksum of every migration it applied (`wm_migrations`),
and a released migration never runs again on a store that has it: editing one
changes nothing for those stores and something else for new ones. So a change
of schema is always a new migration, appended to the kind's `MIGRATIONS`.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from website_monitor import features
from website_monitor.feature import Feature
from website_monitor.store.migrate import Migration

#: (kind, migration) -> (the `wm_schema` version it replaced, sha256 of its SQL), for every
#: released migration. Add a line for a new migration once it is released; never edit one.
RELEASED: dict[tuple[str, str], tuple[int | None, str]] = {
    ("deadletters", "0001_dead_letters"): (
        1,
        "f1a9e2d9919b70763a900f5b33d212a9eab18c6a6684b628802a51f6be55d294",
    ),
    ("probes", "0001_url_probes"): (
        1,
        "e8173561ccb48cd151cfd7f402a872a85b8b983d313bd09d5e4a5df14b2c1908",
    ),
    ("probes", "0002_rollups"): (
        4,
        "239f27215c975c76a5c8e075eb2ef49144429290b922fcdc70e6c96e667baa7b",
    ),
    ("probes", "0003_rollup_state"): (
        5,
        "433ca6ee19f4f81d27a78236bdecc9852193bd4d488199618da9be4d0ba3f7e4",
    ),
    ("probes", "0004_weeks_to"): (
        6,
        "97c42900e603b1da4eeef55bef81f6bf340cb4dcdaa4d19ecf640cdaf785dc43",
    ),
    ("probes", "0005_long_urls"): (
        None,
        "404a190bba515de500780cf78dae5e94dc50e160ca7a6549f7811e4f6f0abf5d",
    ),
    ("probes", "0006_views"): (
        None,
        "55bab1bef6674b71fc992e90eee0d0e84fc831aa17a4114e183b86b7af88265d",
    ),
    ("probes", "0007_partitions"): (
        None,
        "09ed28acf66f8f39a54e6a5c784f94e68408dd11352dc863a132dcb6b6def31f",
    ),
    ("probes", "0008_all_time"): (
        None,
        "076e6e3296799603e8c4819a39f23e6d4d3ff88f3458950e440174c415ae8624",
    ),
    ("probes", "0009_checks"): (
        None,
        "34ab76222b18befcb05df6d06c28697812b75ec6687ced4964618711eb16fc0d",
    ),
    ("probes", "0010_cert_index"): (
        None,
        "ff2e092bd931a2f20d61b90d95c3680e348ab2e15f0e4bdfeacbb4941766bbbc",
    ),
    ("logs", "0001_hits_and_alerts"): (
        2,
        "098df4609e7513af7116bcb032c3e20545719fcc3adc662cafc2d6c078af7725",
    ),
    ("logs", "0002_long_paths"): (
        None,
        "c416e1d11e6aa6d86bfaf1b830eaf6e30d9ccbd83d846842e0b5f595a0abba6e",
    ),
    ("logs", "0003_rollups"): (
        None,
        "258f6bebf06f643d35304d6cf463bd733863aaeab286d79aea631c8529b7798a",
    ),
    ("logs", "0004_partitions"): (
        None,
        "390ea0ec7c0962c172d389192200d9b56028530b51f42b802f0e265527fe8e47",
    ),
    ("logs", "0005_alerts_to_incidents"): (
        None,
        "17c5e649dcf23ee32c473b939e5206ca12c86194370680d1c3768269e9015425",
    ),
    ("alerts", "0001_incidents"): (
        None,
        "76633a4a2ab22319e2827643fbcc1d42455ac34f3a1c93af6b23d1fcc49c32a7",
    ),
    ("telemetry", "0001_telemetry_buckets"): (
        3,
        "3ab68f91435b4da7397fa7c32124bc80475e4e4324e6ed6b64108e4fa852e9e0",
    ),
}

#: The versions stores of the numbered-schema release may hold in `wm_schema`.
LEGACY_VERSIONS = range(1, 7)
NAME = re.compile(r"(\d{4})_[a-z0-9]+(?:_[a-z0-9]+)*")


def every_migration() -> list[tuple[str, Migration]]:
    return [(feature.name, m) for feature in features.FEATURES for m in feature.migrations]


def where(kind: str) -> str:
    return f"website_monitor/{kind}/schema.py"


@pytest.mark.parametrize("key", sorted(RELEASED), ids="/".join)
def test_a_released_migration_is_never_edited(key: tuple[str, str]) -> None:
    kind, name = key
    found = {(k, m.name): m for k, m in every_migration()}
    assert key in found, (
        f"the released migration {kind}/{name} is gone from {where(kind)}: a store that"
        " applied it would be taken for one that did not. Put it back as it was, and undo"
        " it with a new migration if it must go."
    )
    migration = found[key]
    legacy_version, checksum = RELEASED[key]
    assert (migration.legacy_version, migration.checksum) == (legacy_version, checksum), (
        f"the released migration {kind}/{name} was edited. Stores that applied it will never"
        " run it again, so the edit reaches new stores only. Restore it, and make the change"
        f" a new migration appended to MIGRATIONS in {where(kind)}"
        " (then add its checksum to RELEASED in tests/test_migrations.py)."
    )


def test_every_migration_is_pinned() -> None:
    unpinned = [
        f"{kind}/{m.name}: ({m.legacy_version}, {m.checksum!r})"
        for kind, m in every_migration()
        if (kind, m.name) not in RELEASED
    ]
    assert not unpinned, (
        "migrations without a pinned checksum; once final, add to RELEASED in"
        " tests/test_migrations.py: " + "; ".join(unpinned)
    )


@pytest.mark.parametrize("feature", features.FEATURES, ids=lambda f: f.name)
def test_a_kinds_migrations_are_named_uniquely_and_in_order(feature: Feature) -> None:
    names = [m.name for m in feature.migrations]
    assert len(set(names)) == len(names), f"{feature.name}: a migration name is repeated"
    numbers = []
    for name in names:
        match = NAME.fullmatch(name)
        assert match, f"{feature.name}/{name}: name it NNNN_what_it_does (lower case)"
        numbers.append(int(match.group(1)))
    assert numbers == list(range(1, len(names) + 1)), (
        f"{feature.name}: migrations must be numbered 0001, 0002, … in the order they run;"
        f" found {names}"
    )
    for migration in feature.migrations:  # one backend may need nothing (SQLite's indexes)
        assert migration.postgresql or migration.sqlite, f"{feature.name}/{migration.name}: no SQL"


def test_every_legacy_version_is_claimed() -> None:
    claimed: dict[int, list[str]] = {}
    for kind, migration in every_migration():
        if migration.legacy_version is not None:
            claimed.setdefault(migration.legacy_version, []).append(f"{kind}/{migration.name}")
    assert sorted(claimed) == list(LEGACY_VERSIONS), (
        f"each wm_schema version 1-6 must map onto the migrations that replaced it: {claimed}"
    )
    # Within a kind, the versions follow the order of the migrations (adoption keeps it).
    for feature in features.FEATURES:
        versions = [m.legacy_version for m in feature.migrations if m.legacy_version is not None]
        assert versions == sorted(versions), feature.name
        legacy = [m.legacy_version is not None for m in feature.migrations]
        assert legacy == sorted(legacy, reverse=True), (
            f"{feature.name}: a migration newer than the numbered schema cannot replace a version"
        )


def test_the_checksum_covers_both_backends_and_the_name() -> None:
    _, migration = every_migration()[0]
    edits = [
        dataclasses.replace(migration, name=migration.name + "x"),
        dataclasses.replace(migration, postgresql=(*migration.postgresql, "SELECT 1")),
        dataclasses.replace(migration, sqlite=(*migration.sqlite, "SELECT 1")),
        dataclasses.replace(migration, sqlite=(migration.sqlite[0] + " ",)),
        dataclasses.replace(
            migration, postgresql=(*migration.postgresql, *migration.sqlite), sqlite=()
        ),
    ]
    checksums = {migration.checksum, *(edit.checksum for edit in edits)}
    assert len(checksums) == len(edits) + 1
    assert re.fullmatch(r"[0-9a-f]{64}", migration.checksum)
