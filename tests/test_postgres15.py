"""The whole chain on PostgreSQL 15, the oldest supported version, as a user's own server.

Every SQL the project sends — ingest, both Great Expectations gates, dbt (full and incremental),
the MongoDB publish, the statistics, the Tableau export and the read-only role — runs on a
Debian PostgreSQL 15 named by DATABASE_URL, on the course files' layout.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
from _db_state import scratch_database
from test_pipeline_run import STAGES, query, run_pipeline

from streamlytics.consumers import readonly_role
from streamlytics.generate import generate_dataset

pytestmark = pytest.mark.slow


@pytest.fixture
def pg15_url(pg15_server: str) -> str:
    with scratch_database(pg15_server) as url:
        yield url


def _split_sessions(data: Path, later: Path) -> str:
    """Move the last watch day's sessions into a second file, delivered by a later run."""
    path = data / "viewing_sessions.csv"
    header, *lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    last_day = max(line.split(",")[3] for line in lines)
    path.write_text(header + "".join(x for x in lines if x.split(",")[3] < last_day), "utf-8")
    later.mkdir()
    name = f"viewing_sessions_{last_day}.csv"
    (later / name).write_text(header + "".join(x for x in lines if x.split(",")[3] == last_day))
    return name


def test_every_stage_completes_on_postgresql_15_full_and_incremental(tmp_path, pg15_url, mongo_db):
    ((version,),) = query(pg15_url, "show server_version_num")
    assert 150000 <= int(version) < 160000

    data = tmp_path / "data"
    generate_dataset(data, scale=0.03, seed=11)
    later = _split_sessions(data, tmp_path / "later")
    proc, summary = run_pipeline(data, tmp_path / "reports", pg15_url, mongo_db)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert {s["name"]: s["status"] for s in summary["stages"]} == dict.fromkeys(STAGES, "completed")
    for stage in ("raw", "marts"):
        assert summary["overview"]["great_expectations"][stage]["failed_errors"] == 0

    # One more file of sessions: the incremental paths (dbt's delete+insert models, the
    # per-load GX validation, the publish of changed documents only) run on 15 as well.
    os.replace(tmp_path / "later" / later, data / later)
    proc, summary = run_pipeline(data, tmp_path / "reports", pg15_url, mongo_db)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert {s["name"]: s["status"] for s in summary["stages"]} == dict.fromkeys(STAGES, "completed")
    ((landed,),) = query(pg15_url, "select count(*) from core.viewing_sessions")
    ((read,),) = query(
        pg15_url,
        "select sum(rows_loaded) from audit.load_batches "
        "where status = 'loaded' and file_kind = 'viewing_sessions'",
    )
    assert 0 < landed <= read

    # The read-only role Tableau connects with: marts yes, anything else no.
    role = "tableau_reader_pg15"
    readonly_role.grant_readonly(pg15_url, role=role, password="pg15-secret")
    try:
        parts = urlsplit(pg15_url)
        host = parts.netloc.rsplit("@", 1)[-1]
        reader = urlunsplit(parts._replace(netloc=f"{role}:pg15-secret@{host}"))
        with psycopg2.connect(reader) as conn, conn.cursor() as cur:
            cur.execute("select count(*) from marts.rpt_user_analytics")
            assert cur.fetchone()[0] > 0
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("select count(*) from raw.users_rows")
    finally:
        readonly_role.drop_readonly(pg15_url, role)


def test_services_status_reports_a_users_postgresql_15_as_theirs(tmp_path, pg15_server):
    env = {**os.environ, "DATABASE_URL": pg15_server, "STREAMLYTICS_STATE_DIR": str(tmp_path)}
    env.pop("MONGODB_URI", None)
    status = subprocess.run(
        [sys.executable, "-m", "streamlytics.cli", "services", "status"],
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    line = next(row for row in status.stdout.splitlines() if "postgres" in row)
    assert "yours" in line and " 15." in line, status.stdout
