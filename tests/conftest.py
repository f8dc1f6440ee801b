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
# pytest-xdist's workers start with COLUMNS=80, which Rich's consoles (created when the CLI is
# imported) would keep for good; without it a worker's output is as wide as a serial run's.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.pop("COLUMNS", None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules marked slow first, in their order, then the rest: run on several workers
    (pytest-xdist, one module per worker at a time), the longest ones do not start last and
    leave a worker idle at the end."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


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


@pytest.fixture(scope="session", autouse=True)
def private_dbt_target(
    service_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """dbt's target and log folders of this test process: the builds of the tests write there and
    the consumers read there (DBT_TARGET_PATH, DBT_LOG_PATH; dbt_relations.target_dir).

    The user's dbt_project/target keeps the manifest and run results of their own last build,
    and two test processes (pytest-xdist's workers) never write or read each other's. It starts
    with a parsed manifest, so a test that only reads relations finds one whatever ran before.
    """
    from mongo_testdata import parse_project

    work = tmp_path_factory.mktemp("dbt_target")
    target = parse_project(work)
    saved = {name: os.environ.get(name) for name in ("DBT_TARGET_PATH", "DBT_LOG_PATH")}
    os.environ["DBT_TARGET_PATH"], os.environ["DBT_LOG_PATH"] = str(target), str(work / "logs")
    yield target
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


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
    from streamlytics import services

    own = _own_spark()
    was_running = own is None or own.is_running()
    url = services.up(_spark_settings())["spark"]
    yield url
    # Under pytest-xdist another worker may still be using it: the controller stops it instead
    # (pytest_unconfigure below), once every worker has finished.
    if not was_running and "PYTEST_XDIST_WORKER" not in os.environ:
        own.stop()


_SPARK_WAS_RUNNING = pytest.StashKey[bool]()


def _spark_settings():
    """The project's settings with the Spark engine, reached through Spark Connect."""
    import dataclasses

    from streamlytics.config import settings

    return dataclasses.replace(settings(), warehouse="spark", spark_thrift_host=None)


def _own_spark():
    """The project's own local Spark Connect server; None when SPARK_REMOTE names another."""
    from streamlytics import services

    cfg = _spark_settings()
    return None if cfg.spark_remote else services._spark(cfg)


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the controller, or a run without workers
        server = _own_spark()
        config.stash[_SPARK_WAS_RUNNING] = server is None or server.is_running()


def pytest_unconfigure(config: pytest.Config) -> None:
    """A distributed run's controller stops the local Spark server its workers started."""
    distributed = getattr(config.option, "numprocesses", None)
    controller = not hasattr(config, "workerinput")
    if distributed and controller and not config.stash.get(_SPARK_WAS_RUNNING, True):
        server = _own_spark()
        if server is not None:
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
