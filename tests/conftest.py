"""Fixtures that reach real services. Outside CI a missing service skips; in CI it fails."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests import services

# Property tests check behaviour, not speed: on a small shared machine (CI runs on 2 cores
# next to PostgreSQL and the broker) generation can be slow, which is not a failure.
settings.register_profile(
    "website-monitor", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("website-monitor")


def unavailable(message: str) -> None:
    if services.IN_CI:
        pytest.fail(f"{message} (CI=true: a missing service is a failure)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the developer's own WM_* settings and data directory out of every test."""
    import os

    for name in list(os.environ):
        if name.startswith("WM_") and not name.startswith("WM_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("WM_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture(autouse=True)
def stop_left_running() -> Iterator[None]:
    """Stop what the test left running on purpose (services.LEFT_RUNNING) when it ends."""
    yield
    services.stop_left_running()


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    url = services.pg_admin_url()
    try:
        services.check_postgres(url)
    except services.ServiceUnavailable as exc:
        unavailable(str(exc))
    return url


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this test."""
    with services.fresh_database(pg_admin_url) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'wm.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs on both backends."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    try:
        with services.kafka_broker() as bootstrap:
            yield bootstrap
    except services.ServiceUnavailable as exc:
        unavailable(str(exc))


@pytest.fixture
def topic() -> str:
    return f"wm-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def http_server() -> Iterator[services.HTTPTestServer]:
    with services.HTTPTestServer() as server:
        yield server


@pytest.fixture
def own_broker() -> Iterator[services.Broker]:
    """A broker of the test's own, which it may stop and start again on the same port."""
    broker = services.Broker.start_tansu()
    yield broker
    broker.stop()
