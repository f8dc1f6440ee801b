"""Re-runs change nothing; killed loads and stopped servers end where an uninterrupted run ends.

(a) Re-running the pipeline on the same files changes no table. "The pipeline" here is every
    stage that writes tables or documents: ingest (streamlytics.ingest), dbt build
    (streamlytics.transform.run_build, the whole project) and publish (mongo.stage). The GX,
    statistics and Tableau stages only read the tables and write report files, so they cannot
    change a table and are left out to keep the test fast. Unit tests are excluded from the dbt
    build: they run on fixed inputs, never on the pipeline's tables. Every base table of raw,
    audit, core and marts is compared by an md5 of all its rows and columns, with NO column
    excluded: a re-run of the same bytes writes nothing at ingest (each batch is skipped by its
    sha256) and the dbt models carry no build timestamp (audit.staging_quarantine's detected_at
    is the batch's load time), so there is no timestamp that could legitimately change.
(b) A load killed with SIGKILL at several points, then re-run, converges to the same contents as
    an uninterrupted load into another fresh database. Two databases differ legitimately in
    what records the attempt: started_at / finished_at / detected_at, and the surrogate keys
    load_id / quarantine_id, drawn from sequences that a rolled-back attempt still advances
    (PostgreSQL sequences are not transactional). Those are compared through the batch id they
    stand for (see _db_state.content_checksums); everything else must be equal.
(c) A server stopped in the middle of a run: a separate embedded PostgreSQL / MongoDB under
    tmp_path (the shared servers are never stopped). The run retries, then fails naming the
    server; once it is back, a re-run completes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg2
import pymongo
import pytest
from _db_state import (
    assert_ingest_accounted,
    connect,
    content_checksums,
    one,
    rows,
    scratch_database,
    table_checksums,
)
from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, temporary_settings

from streamlytics.config import settings
from streamlytics.generate import generate_dataset
from streamlytics.ingest import ingest_directory
from streamlytics.services.mongo import EmbeddedMongo
from streamlytics.services.postgres import EmbeddedPostgres
from streamlytics.transform import run_build

PIPELINE_SCHEMAS = ("raw", "audit", "core", "marts")


def mongo_checksums(uri: str, db_name: str) -> dict[str, tuple[int, str]]:
    """Every collection: (documents, md5 of the documents sorted by _id)."""
    with pymongo.MongoClient(uri) as client:
        db = client[db_name]
        out = {}
        for name in sorted(db.list_collection_names()):
            docs = sorted(db[name].find({}), key=lambda d: str(d["_id"]))
            text = "\n".join(json.dumps(d, sort_keys=True, default=str) for d in docs)
            out[name] = (len(docs), hashlib.md5(text.encode()).hexdigest())
        return out


# --------------------------------------------------------------------------- (a) re-run
@dataclass
class Built:
    data: Path
    url: str
    mongo_uri: str
    mongo_db: str
    target: Path
    publish: dict


def dbt_build(url: str, target: Path) -> None:
    result = run_build(
        exclude=["resource_type:unit_test"],
        target_path=target,
        log_path=target / "logs",
        cfg=replace(settings(), database_url=url),
    )
    assert result.ok, [f.describe() for f in result.failures] or result.output_tail


def publish(url: str, uri: str, db_name: str) -> dict:
    from mongo.stage import run_publish_stage

    return run_publish_stage(url, uri, db_name).summary()


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, service_urls: dict[str, str]
) -> Iterator[Built]:
    """A database (and a Mongo database) after one full run on a small dirty data set."""
    base = tmp_path_factory.mktemp("rerun")
    data = base / "data"
    generate_dataset(data, scale=0.01, seed=11, dirty_fraction=0.02)
    (data / "manifest.json").unlink()  # the generator's answer key, not an input
    mongo_db = f"test_rerun_{os.getpid()}"
    with scratch_database(service_urls["postgres"], "rerun") as url:
        ingest_directory(data, url)
        dbt_build(url, base / "target")
        summary = publish(url, service_urls["mongo"], mongo_db)
        try:
            yield Built(data, url, service_urls["mongo"], mongo_db, base / "target", summary)
        finally:
            with pymongo.MongoClient(service_urls["mongo"]) as client:
                client.drop_database(mongo_db)


def test_rerunning_the_pipeline_on_the_same_files_changes_no_table(built: Built) -> None:
    before = table_checksums(built.url, PIPELINE_SCHEMAS)
    documents_before = mongo_checksums(built.mongo_uri, built.mongo_db)
    assert {
        "raw.viewing_sessions_rows",
        "audit.load_batches",
        "audit.quarantine",
        "audit.staging_quarantine",
        "core.viewing_sessions",
        "core.users",
    } <= set(before)
    assert all(count > 0 for count, _ in before.values()), (
        before
    )  # nothing compared is trivially empty
    assert any(name.startswith("marts.") for name in before)

    report = ingest_directory(built.data, built.url)
    assert [f.status for f in report.files] == ["skipped", "skipped", "skipped"]
    dbt_build(built.url, built.target)
    again = publish(built.url, built.mongo_uri, built.mongo_db)

    assert table_checksums(built.url, PIPELINE_SCHEMAS) == before
    for name, counts in again["collections"].items():
        assert (counts["inserted"], counts["updated"], counts["removed"]) == (0, 0, 0), name
    assert mongo_checksums(built.mongo_uri, built.mongo_db) == documents_before


# --------------------------------------------------------------------------- (b) SIGKILL
CHILD = r"""
import sys, time
from pathlib import Path
from streamlytics.ingest import ingest_directory

data, url, pause_at = Path(sys.argv[1]), sys.argv[2], sys.argv[3]

def progress(source, done):
    # Test hook: with pause_at = "sessions", hold the producer after the first block of the
    # sessions file, so the COPY is open with rows sent when the parent kills this process.
    if pause_at == "sessions" and source.kind == "viewing_sessions" and done < source.size:
        print("paused", flush=True)
        time.sleep(60)

print("go", flush=True)
ingest_directory(data, url, progress=progress)
print("done", flush=True)
"""


@pytest.fixture(scope="module")
def big_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("kill") / "data"
    generate_dataset(data, scale=0.5, seed=5, dirty_fraction=0.01)  # ~110k sessions, 5.5 MB
    (data / "manifest.json").unlink()
    return data


@pytest.fixture(scope="module")
def reference(big_dir: Path, service_urls: dict[str, str]) -> dict[str, tuple[int, str]]:
    """Contents of an uninterrupted load of ``big_dir`` into its own fresh database."""
    with scratch_database(service_urls["postgres"], "reference") as url:
        ingest_directory(big_dir, url)
        assert_ingest_accounted(url, big_dir)
        return content_checksums(url)


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def assert_no_partial_batch(url: str) -> list[str]:
    """Every landed row belongs to a complete 'loaded' batch; returns the files loaded so far."""
    if one(url, "select to_regclass('audit.load_batches') is null"):
        return []
    assert one(url, "select count(*) from audit.load_batches where status <> 'loaded'") == 0
    for table in (
        "raw.users_rows",
        "raw.viewing_sessions_rows",
        "raw.movies_rows",
        "raw.series_rows",
    ):
        assert (
            one(
                url,
                f"select count(*) from {table} r where not exists (select 1 from audit.load_batches b "
                f"where b.load_id = r._load_id and b.status = 'loaded')",
            )
            == 0
        ), table
    for load_id, kind, rows_loaded in rows(
        url, "select load_id, file_kind, rows_loaded from audit.load_batches"
    ):
        tables = {
            "users": ["raw.users_rows"],
            "content": ["raw.movies_rows", "raw.series_rows"],
            "viewing_sessions": ["raw.viewing_sessions_rows"],
        }[kind]
        landed = sum(
            one(url, f"select count(*) from {t} where _load_id = %s", (load_id,)) for t in tables
        )
        assert landed == rows_loaded, (kind, landed, rows_loaded)
    return [r[0] for r in rows(url, "select source_file from audit.load_batches order by load_id")]


KILL_POINTS = ["after-0.02s", "after-0.2s", "after-0.5s", "after-1.0s", "mid-sessions-copy"]


@pytest.mark.parametrize("point", KILL_POINTS)
def test_load_killed_then_rerun_converges_to_an_uninterrupted_load(
    point: str, big_dir: Path, reference: dict, pg_url: str
) -> None:
    pause = "sessions" if point == "mid-sessions-copy" else "none"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(big_dir), pg_url, pause],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "go"
        if point == "mid-sessions-copy":
            assert child.stdout.readline().strip() == "paused"
            copying = (
                "select count(*) from pg_stat_progress_copy where datname = current_database() "
                "and relid = 'raw.viewing_sessions_rows'::regclass"
            )
            wait_for(lambda: one(pg_url, copying) == 1, 30, "the sessions COPY to be open")
        else:
            time.sleep(float(point.removeprefix("after-").removesuffix("s")))
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    # The server rolls the open transaction back once it sees the connection gone.
    wait_for(
        lambda: (
            one(
                pg_url,
                "select count(*) from pg_stat_activity where datname = current_database() "
                "and application_name = 'streamlytics-ingest'",
            )
            == 0
        ),
        30,
        "the backend to end",
    )

    loaded_at_kill = assert_no_partial_batch(pg_url)
    print(f"killed {point}: batches committed before the kill: {loaded_at_kill}")
    if point == "mid-sessions-copy":
        assert child.returncode == -signal.SIGKILL
        assert loaded_at_kill == ["users.csv", "content.json"]

    ingest_directory(big_dir, pg_url)
    assert_ingest_accounted(pg_url, big_dir)
    assert content_checksums(pg_url) == reference, f"killed {point} with {loaded_at_kill} loaded"


# --------------------------------------------------------------------------- (c) servers stopped
@pytest.fixture
def small_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    generate_dataset(data, scale=0.005, seed=3)
    return data


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server of this test alone, stopped at the end whatever happened."""
    server = EmbeddedPostgres(tmp_path / "pg")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_postgres_stopped_mid_ingest_retries_fails_naming_it_then_rerun_completes(
    own_postgres: EmbeddedPostgres, small_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.ingest import ingest_flow
    from streamlytics.ingest import db

    url = own_postgres.url()
    assert url is not None
    monkeypatch.setenv("DATABASE_URL", url)
    # Should this test start Prefect's temporary API server, give it a SQLite file of its own:
    # the default ~/.prefect/prefect.db is shared by every Prefect process on the machine, and
    # waiting on its locks made the server take minutes to start on this busy machine.
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    with contextlib.closing(db.connect(url)) as conn:
        db.apply_schema(conn)
    # Hold the sessions table against writers (share mode still lets the schema's views read it):
    # the run loads users and content, then waits inside the sessions batch's transaction, at
    # its COPY - a known moment "mid-ingest" at which to stop the server.
    blocker = psycopg2.connect(url)
    blocker.cursor().execute("lock table raw.viewing_sessions_rows in share mode")
    waiting = (
        "select count(*) from pg_stat_activity where application_name = 'streamlytics-ingest' "
        "and wait_event_type = 'Lock'"
    )
    seen: dict[str, float] = {}

    def stop_when_waiting() -> None:
        try:
            wait_for(
                lambda: one(url, waiting) == 1, 300, "the ingest to wait on the sessions table"
            )
            seen["waiting"] = time.monotonic()
        finally:
            own_postgres.stop()  # in any case: a run blocked on the lock must not hang the test
            seen["stopped"] = time.monotonic()

    stopper = threading.Thread(target=stop_when_waiting, daemon=True)
    records = Records()
    logging.getLogger("prefect.task_runs").addHandler(records)
    stopper.start()
    try:
        # This machine is shared and busy: give Prefect's temporary API server time to start.
        with (
            temporary_settings({PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: 300}),
            pytest.raises(psycopg2.OperationalError) as failure,
        ):
            ingest_flow(str(small_dir))
        failed_at = time.monotonic()
    finally:
        logging.getLogger("prefect.task_runs").removeHandler(records)
        stopper.join(timeout=330)
        blocker.close()
    assert "waiting" in seen, (
        "the server was stopped only because the ingest never reached the sessions COPY"
    )
    # Retries 2 s apart, refused while the server is down: the failure comes seconds after the
    # server went away, not at the first error.
    assert failed_at - seen["stopped"] >= 2 * 2
    retries = [m for m in records.messages if "Retry" in m and "will start" in m]
    assert [m.split(" - Retry ")[1].split(" ")[0] for m in retries] == ["1/3", "2/3", "3/3"], (
        records.messages
    )
    # The failure names the server it could not reach.
    assert f"port {own_postgres.port}" in str(failure.value) and "127.0.0.1" in str(failure.value)

    own_postgres.start()
    assert rows(url, "select source_file from audit.load_batches order by load_id") == [
        ("users.csv",),
        ("content.json",),
    ]
    assert one(url, "select count(*) from raw.viewing_sessions_rows") == 0
    result = ingest_flow(str(small_dir))
    assert [f["status"] for f in result["files"]] == ["skipped", "skipped", "loaded"]
    assert_ingest_accounted(url, small_dir)


@pytest.fixture
def own_mongo(tmp_path: Path) -> Iterator[EmbeddedMongo]:
    server = EmbeddedMongo(tmp_path / "mongo")
    server.start()
    try:
        yield server
    finally:
        server.stop()


SELECTION_SECONDS = 3


def quick(uri: str) -> str:
    """The server's URI with a shorter server-selection wait (pymongo's retry loop): the test
    waits 3 s for a stopped server instead of the project's 20 s, and proves the wait happened."""
    return uri.replace(
        "serverSelectionTimeoutMS=20000", f"serverSelectionTimeoutMS={SELECTION_SECONDS * 1000}"
    )


def test_mongodb_stopped_before_or_during_publish_fails_naming_it_then_rerun_completes(
    built: Built, own_mongo: EmbeddedMongo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mongo import pipelines
    from mongo.stage import PublishError

    uri = quick(own_mongo.url() or "")
    port = own_mongo.port
    totals = {name: c["total"] for name, c in built.publish["collections"].items()}

    own_mongo.stop()  # before the publish
    started = time.monotonic()
    with pytest.raises(PublishError) as before:
        publish(built.url, uri, "pub")
    assert (
        time.monotonic() - started >= SELECTION_SECONDS - 0.5
    )  # it kept trying the whole selection wait
    assert "MongoDB" in str(before.value) and f"127.0.0.1:{port}" in str(before.value)

    own_mongo.start()
    assert own_mongo.port == port
    first = publish(built.url, uri, "pub")
    assert {name: c["inserted"] for name, c in first["collections"].items()} == totals

    # During: documents synced, then the server goes away before the aggregation pipelines run.
    run_all = pipelines.run_all

    def stop_then_run(db):
        own_mongo.stop()
        return run_all(db)

    monkeypatch.setattr(pipelines, "run_all", stop_then_run)
    with pytest.raises(PublishError) as during:
        publish(built.url, uri, "pub")
    assert "MongoDB" in str(during.value) and f"127.0.0.1:{port}" in str(during.value)
    monkeypatch.setattr(pipelines, "run_all", run_all)

    own_mongo.start()
    again = publish(built.url, uri, "pub")
    assert {
        name: (c["total"], c["inserted"], c["removed"]) for name, c in again["collections"].items()
    } == {name: (total, 0, 0) for name, total in totals.items()}
    assert again["pipeline_rows"] == built.publish["pipeline_rows"]
    assert mongo_checksums(uri, "pub") == mongo_checksums(built.mongo_uri, built.mongo_db)


def test_checksums_see_a_changed_row(
    built: Built, tmp_path: Path, service_urls: dict[str, str]
) -> None:
    """The comparison above can fail: one changed value changes its table's checksum, and only that."""
    with scratch_database(service_urls["postgres"], "copy") as url:
        ingest_directory(built.data, url)
        before = content_checksums(url)
        with contextlib.closing(connect(url)) as conn, conn.cursor() as cur:
            cur.execute("update raw.users_rows set age = age + 1 where _source_line = 2")
        after = content_checksums(url)
    assert {k for k in before if before[k] != after[k]} == {"raw.users_rows"}
