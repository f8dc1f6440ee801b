"""A loader killed in the middle of a COPY leaves no trace of its batch, and a re-run converges."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
from _ingest_files import SESSIONS_HEADER, big_sessions_lines, write_dataset

from streamlytics.ingest import ingest_directory

ROWS = 400_000  # ≈ 20 MB: the COPY lasts long enough to be caught in the middle


def one(url: str, sql: str) -> object:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()[0]
    finally:
        conn.close()


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def test_sigkill_during_copy_leaves_nothing_of_the_batch(tmp_path: Path, pg_url: str) -> None:
    write_dataset(tmp_path)
    sessions = tmp_path / "viewing_sessions.csv"
    sessions.write_bytes(SESSIONS_HEADER.encode() + b"\n" + big_sessions_lines(ROWS))
    loader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from streamlytics.ingest import ingest_directory; ingest_directory(sys.argv[1], sys.argv[2])",
            str(tmp_path),
            pg_url,
        ],
    )
    copying = (
        "select coalesce(max(p.tuples_processed), 0) from pg_stat_progress_copy p "
        "where p.datname = current_database() and p.relid = 'raw.viewing_sessions_rows'::regclass"
    )
    watcher = psycopg2.connect(pg_url)
    watcher.autocommit = True  # each poll sees the current state
    try:
        with watcher.cursor() as cur:

            def polled(sql: str) -> object:
                cur.execute(sql)
                return cur.fetchone()[0]

            wait_for(
                lambda: polled("select to_regclass('raw.viewing_sessions_rows') is not null"),
                60,
                "the schema",
            )
            wait_for(lambda: polled(copying) > 1000, 60, "the sessions COPY to start")
            os.kill(loader.pid, signal.SIGKILL)
    finally:
        watcher.close()
        loader.wait(timeout=30)
    assert loader.returncode == -signal.SIGKILL
    # The server aborts the transaction as soon as it sees the connection gone.
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

    assert one(pg_url, "select count(*) from raw.viewing_sessions_rows") == 0
    assert (
        one(pg_url, "select count(*) from audit.load_batches where file_kind = 'viewing_sessions'")
        == 0
    )
    assert one(pg_url, "select count(*) from audit.quarantine") == 0
    # The files loaded before the kill are complete batches of their own.
    assert (
        one(
            pg_url,
            "select string_agg(source_file || ':' || status, ',' order by load_id) "
            "from audit.load_batches",
        )
        == "users.csv:loaded,content.json:loaded"
    )

    report = ingest_directory(tmp_path, pg_url)
    assert [f.status for f in report.files] == ["skipped", "skipped", "loaded"]
    assert one(pg_url, "select count(*) from raw.viewing_sessions") == ROWS
    assert one(pg_url, "select count(distinct _source_line) from raw.viewing_sessions") == ROWS
