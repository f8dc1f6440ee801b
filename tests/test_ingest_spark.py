"""Raw landing on Spark: what PostgreSQL lands, Spark lands; re-runs and kills change nothing.

The real Spark Connect server (conftest's spark_remote); each test lands into databases of its
own (``<prefix>raw``, ``<prefix>audit``), dropped afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg2
import pytest
from _ingest_files import SESSIONS, SESSIONS_HEADER, USERS, USERS_HEADER, write_csv, write_dataset
from typer.testing import CliRunner

# Imported here, not inside a CliRunner call, so that Prefect's log handlers bind to pytest's
# streams rather than to a CliRunner stream that is closed after the call.
import flows.ingest  # noqa: F401
from streamlytics.cli import app
from streamlytics.ingest import ingest_directory as ingest_postgres
from streamlytics.ingest.csv_lines import FieldChecker
from streamlytics.ingest.formats import USERS as USERS_LAYOUT
from streamlytics.ingest.spark_landing import DECIMAL_DIGITS, SparkLanding, connect
from streamlytics.ingest.spark_landing import ingest_directory as ingest_spark

pytestmark = pytest.mark.slow

VIEWS = ("users", "viewing_sessions", "movies", "series", "content_genres", "series_seasons")
# Lineage that names the run rather than the data: load times differ between any two runs.
RUN_COLUMNS = {"_loaded_at"}
QUARANTINE = (
    "source_file, source_line, item_index, stage, reason_code, field, value, message, raw_text"
)


@pytest.fixture
def prefix(spark_session):
    name = f"t{uuid.uuid4().hex[:10]}_"
    yield name
    for db in ("raw", "audit"):
        spark_session.sql(f"drop database if exists {name}{db} cascade")


def tricky_lines() -> tuple[list[str], list[str]]:
    """Lines the fast path leaves to the exact checker: escapes, a tab, a quote, a backslash, a
    CR inside a field, and refusals of every kind the CSV rules have."""
    users = [
        *USERS,
        'U0004,40,"Quoted" land,Basic,2023-05-05,10.25',
        "U0005,41,Back\\slash,Premium,2023-05-06,0.5",
        "U0006,42,Tab\there,Standard,2023-05-07,3",
        "U0007,43,Carriage\rReturn,Basic,2023-05-08,7.125",
        "U0008,x,Peru,Basic,2023-05-09,1.0",  # bad_number
        "U0009,44,Peru,Basic,2023-02-30,1.0",  # bad_date
        "U0010,45,Peru,Basic",  # field_count
        "U0011,46,,Basic,2023-05-10,1.0",  # empty_required
    ]
    sessions = [*SESSIONS, "S000004,U0001,M001,2024-13-01,10,5.0,Mobile,HD", "S000005,U0002"]
    return users, sessions


def pg_rows(url: str, sql: str) -> list[tuple]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def view_sql(view: str, columns: list[str]) -> str:
    return f"select {', '.join(columns)} from raw.{view} order by _load_id, _source_line, 1, 2, 3"


def spark_state(landing: SparkLanding) -> dict[str, object]:
    """Everything a re-run could change: the ledger, and every file of every landing table with
    its size and time (Parquet files are immutable: same files, same rows)."""
    state: dict[str, object] = {
        "ledger": sorted(map(tuple, landing.sql("select * from audit.load_batch_log").collect())),
        "partitions": {
            table: sorted(r[0] for r in landing.sql(f"show partitions {table}").collect())
            for table in [f"raw.{view}_rows" for view in VIEWS] + ["audit.quarantine_rows"]
        },
    }
    for table in state["partitions"]:  # type: ignore[union-attr]
        folder = Path(landing.filesystem(landing.location(table))[1])
        for path in folder.rglob("*"):
            stat = path.stat()
            state[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return state


def test_spark_lands_what_postgres_lands_and_a_rerun_changes_nothing(
    tmp_path: Path, pg_url: str, spark_remote: str, prefix: str
) -> None:
    users, sessions = tricky_lines()
    data = write_dataset(tmp_path / "data", users=users, sessions=sessions)
    lock = tmp_path / "ingest.lock"
    on_pg = ingest_postgres(data, pg_url)
    on_spark = ingest_spark(data, spark_remote, lock, database_prefix=prefix)

    def counts(report):
        return [
            (f.file, f.status, f.lines_read, f.rows_loaded, f.rows_quarantined)
            for f in report.files
        ]

    assert counts(on_spark) == counts(on_pg)
    assert on_spark.files[0].rows_quarantined == 4  # bad number, date, field count, empty

    landing = SparkLanding(connect(spark_remote), lock, prefix)
    for view in VIEWS:
        columns = [
            r[0] for r in landing.sql(f"describe raw.{view}").collect() if r[0] not in RUN_COLUMNS
        ]
        expected = pg_rows(pg_url, view_sql(view, columns))
        got = [tuple(r) for r in landing.sql(view_sql(view, columns)).collect()]
        assert got == expected, view  # Decimal('10.25') == Decimal('10.250…'): exact values
        assert expected, f"raw.{view} should have rows"
        if view == "users":  # decimals compared as numbers, not as their text
            assert any(isinstance(v, Decimal) for row in expected for v in row)
    tab_row = landing.sql("select country from raw.users where user_id = 'U0006'").collect()
    assert tab_row[0][0] == "Tab\there"

    order = "order by source_file, source_line"
    assert [
        tuple(r)
        for r in landing.sql(f"select {QUARANTINE} from audit.quarantine {order}").collect()
    ] == pg_rows(pg_url, f"select {QUARANTINE} from audit.quarantine {order}")
    ledger = "select load_id, file_kind, status, lines_read, rows_loaded, rows_quarantined from audit.load_batches order by load_id"
    assert [tuple(r) for r in landing.sql(ledger).collect()] == pg_rows(pg_url, ledger)

    # Again through the pipeline's own ingest (the CLI's Prefect flow), which lands in the
    # databases dbt and the gates read, DBT_SCHEMA_PREFIX's: it finds every file landed there.
    before = spark_state(landing)
    saved = os.environ.copy()
    try:
        os.environ.update(
            STREAMLYTICS_WAREHOUSE="spark", SPARK_REMOTE=spark_remote, DBT_SCHEMA_PREFIX=prefix
        )
        os.environ.pop("SPARK_THRIFT_HOST", None)
        again = CliRunner().invoke(app, ["ingest", "--data-dir", str(data)])
    finally:
        # The CLI exports the engine and the services' URLs into this process for its stages'
        # children: none of it may outlive the test (the next test in this worker would build
        # on Spark).
        os.environ.clear()
        os.environ.update(saved)
    assert again.exit_code == 0, again.output
    statuses = [
        line.split()[1]
        for line in again.output.splitlines()
        if line.split()[1:2] in (["loaded"], ["skipped"])
    ]
    assert statuses == ["skipped"] * 3, again.output
    assert spark_state(landing) == before


KILLER = """
import os, signal, sys
from pathlib import Path
from streamlytics.ingest import spark_landing

def killed_at_commit(self, rows):
    os.kill(os.getpid(), signal.SIGKILL)  # every file written and registered; no ledger row

spark_landing.SparkLanding.append_ledger = killed_at_commit
spark_landing.ingest_directory(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), database_prefix=sys.argv[4])
"""


def test_a_load_killed_at_its_commit_point_is_invisible_and_the_next_run_converges(
    tmp_path: Path, spark_remote: str, prefix: str
) -> None:
    data = write_dataset(tmp_path / "data")
    lock = tmp_path / "ingest.lock"
    ingest_spark(data, spark_remote, lock, database_prefix=prefix)
    landing = SparkLanding(connect(spark_remote), lock, prefix)
    first = spark_state(landing)
    rows = {v: landing.sql(f"select count(*) from raw.{v}").collect()[0][0] for v in VIEWS}

    # A new users snapshot and a corrected sessions re-export (same name, new bytes).
    write_csv(data / "users.csv", USERS_HEADER, [*USERS, "U0004,22,Peru,Basic,2024-01-01,1.5"])
    write_csv(data / "viewing_sessions.csv", SESSIONS_HEADER, SESSIONS[:2])
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, str(data), spark_remote, str(lock), prefix],
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL
    # Its files and partition are there, but nothing of the batch is visible.
    partitions = landing.sql("show partitions raw.users_rows").collect()
    assert len(partitions) == 2
    for view in VIEWS:
        assert landing.sql(f"select count(*) from raw.{view}").collect()[0][0] == rows[view], view
    assert spark_state(landing)["ledger"] == first["ledger"]

    second = ingest_spark(data, spark_remote, lock, database_prefix=prefix)
    assert [f.status for f in second.files] == ["loaded", "skipped", "loaded"]
    users = landing.sql("select user_id from raw.users order by user_id").collect()
    assert [r[0] for r in users] == ["U0001", "U0002", "U0003", "U0004"]
    sessions = landing.sql("select session_id from raw.viewing_sessions order by 1").collect()
    assert [r[0] for r in sessions] == ["S000001", "S000002"]
    states = landing.sql(
        "select file_kind, status, superseded_by is not null from audit.load_batches order by load_id"
    ).collect()
    assert [tuple(r) for r in states] == [
        ("users", "superseded", True),
        ("content", "loaded", False),
        ("viewing_sessions", "superseded", True),
        ("users", "loaded", False),
        ("viewing_sessions", "loaded", False),
    ]
    # The sweep left only the loaded batches' partitions.
    assert len(landing.sql("show partitions raw.users_rows").collect()) == 1


@pytest.mark.parametrize(
    ("value", "lands"),
    [
        ("12345678901234567890123.123456789012345", True),
        ("123456789012345678901234", False),
        ("1.1234567890123456", False),
        ("-000000000000000000000000001.5", True),
    ],
)
def test_decimals_beyond_the_spark_landing_type_are_refused_by_name(
    value: str, lands: bool
) -> None:
    checker = FieldChecker(USERS_LAYOUT, decimal_digits=DECIMAL_DIGITS)
    row, problems = checker.check(f"U1,30,Peru,Basic,2024-01-01,{value}")
    assert (row is not None) == lands
    if not lands:
        reason, field, shown, detail = problems[0]
        assert (reason, field, shown) == ("bad_number", "total_watch_time_hours", value)
        assert "23 integer or 15 fraction digits" in detail
