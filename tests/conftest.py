"""Shared fixtures: real PostgreSQL and MongoDB servers, one throwaway database per test.

The servers are the ones `streamlytics services up` manages (or DATABASE_URL / MONGODB_URI when
set). Each test that writes gets its own database, so tests never see each other's rows and can
run against a developer's server without touching the project's own data.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def _snapshot(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture(scope="session", autouse=True)
def private_gx_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the GX project for the whole session: tests never write into the user's.

    Validations write results and Data Docs into the context's uncommitted/ folder; a user who
    ran the suite would otherwise find red runs (deliberately failing test data) in the Data
    Docs of their own pipeline. STREAMLYTICS_GX_DIR is inherited by every CLI the tests start.
    """
    from streamlytics.config import settings

    real = settings().project_root / "expectations"
    copy = tmp_path_factory.mktemp("gx_project") / "expectations"
    shutil.copytree(real, copy, ignore=shutil.ignore_patterns("uncommitted"))
    uncommitted = real / "gx" / "uncommitted"
    before = _snapshot(uncommitted)
    previous = os.environ.get("STREAMLYTICS_GX_DIR")
    os.environ["STREAMLYTICS_GX_DIR"] = str(copy)
    yield copy
    if previous is None:
        os.environ.pop("STREAMLYTICS_GX_DIR", None)
    else:
        os.environ["STREAMLYTICS_GX_DIR"] = previous
    assert _snapshot(uncommitted) == before, f"the test session wrote into {uncommitted}"


@pytest.fixture(scope="session")
def service_urls() -> dict[str, str]:
    """Both servers reachable (started if they are the project's own)."""
    from streamlytics import services

    return services.up()


@pytest.fixture
def pg_url(service_urls: dict[str, str]) -> Iterator[str]:
    """URL of a new, empty PostgreSQL database, dropped after the test."""
    from _db_state import scratch_database

    with scratch_database(service_urls["postgres"]) as url:
        yield url


@pytest.fixture
def pg_env(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the project (DATABASE_URL, PG* for dbt) at the throwaway database."""
    from streamlytics.services import pg_variables

    monkeypatch.setenv("DATABASE_URL", pg_url)
    for key, value in pg_variables(pg_url).items():
        monkeypatch.setenv(key, value)
    return pg_url


@pytest.fixture
def mongo_db(service_urls: dict[str, str]) -> Iterator[tuple[str, str]]:
    """(MONGODB_URI, database name) of a new MongoDB database, dropped after the test."""
    import pymongo

    uri = service_urls["mongo"]
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield uri, name
    with pymongo.MongoClient(uri) as client:
        client.drop_database(name)


# Debian's PostgreSQL 15 (`make test` installs postgresql-15 when it is missing and we are root).
PG15_BIN = Path(os.environ.get("STREAMLYTICS_PG15_BIN", "/usr/lib/postgresql/15/bin"))


@pytest.fixture(scope="session")
def pg15_server() -> Iterator[str]:
    """URL of a PostgreSQL 15 server of this session's own (the oldest version we support).

    The suite runs on the embedded 18; PostgreSQL 15 differs where it matters to us (it rejects
    a subquery in FROM without an alias, for one), so the end-to-end tests run there too.
    """
    from streamlytics.services.postgres import EmbeddedPostgres

    if not (PG15_BIN / "postgres").exists():
        pytest.fail(
            f"PostgreSQL 15 binaries are not in {PG15_BIN}: `apt-get install postgresql-15` "
            "(make test does it when run as root), or set STREAMLYTICS_PG15_BIN."
        )
    # Under the project's state folder rather than pytest's temporary one: the server runs as
    # another OS user when we are root, and pytest makes its temporary root owner-only again
    # whenever another pytest process starts on the machine.
    from streamlytics.config import settings

    server = EmbeddedPostgres(settings().state_dir / "test-postgres15", bin_dir=PG15_BIN)
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


# Apache Spark (the `spark` extra): one Spark Connect server for the whole session, the project's
# own local one (or SPARK_REMOTE's), as `streamlytics --warehouse spark services up` gives it.
@pytest.fixture(scope="session")
def spark_remote(service_urls: dict[str, str]) -> Iterator[str]:
    """The Spark Connect URL; a local server this fixture started is stopped at the end."""
    import dataclasses

    from streamlytics import services
    from streamlytics.config import settings

    cfg = dataclasses.replace(settings(), warehouse="spark", spark_thrift_host=None)
    server = services._spark(cfg)
    was_running = server.is_running()
    url = services.up(cfg)["spark"]
    yield url
    if not was_running and not cfg.spark_remote:
        server.stop()


@pytest.fixture(scope="session")
def spark_session(spark_remote: str):
    """A Spark Connect client session on the test server."""
    from pyspark.sql import SparkSession

    session = SparkSession.builder.remote(spark_remote).create()
    yield session
    session.stop()


@pytest.fixture
def spark_db(spark_session) -> Iterator[str]:
    """The name of a new, empty Spark database (a schema), dropped with its tables after."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield name
    spark_session.sql(f"drop database if exists {name} cascade")
