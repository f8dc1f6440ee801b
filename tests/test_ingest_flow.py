"""The Prefect flow and the `streamlytics ingest` command around the loader."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import psycopg2
import pytest
from _ingest_files import write_dataset
from prefect import flow
from typer.testing import CliRunner

# Imported here, not inside a CliRunner call, so that Prefect's log handlers bind to pytest's
# streams rather than to a CliRunner stream that is closed after the call.
import flows.ingest  # noqa: F401
from streamlytics.cli import app
from streamlytics.ingest import InvariantError, SourceChangedError, preflight


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_cli_refuses_a_bad_directory_naming_file_and_line_without_writing(
    tmp_path: Path, pg_env: str
) -> None:
    write_dataset(tmp_path)
    (tmp_path / "viewing_sessions.csv").write_bytes(b"session_id,user_id\nS1,U1\n")
    result = CliRunner().invoke(app, ["ingest", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "viewing_sessions.csv line 1, column 19: header missing column(s) content_id" in flat(
        result.output
    )
    conn = psycopg2.connect(pg_env)
    with conn.cursor() as cur:
        cur.execute(
            "select count(*) from information_schema.schemata where schema_name in ('raw', 'audit')"
        )
        assert cur.fetchone()[0] == 0  # nothing at all was written, not even the schema
    conn.close()


def test_cli_runs_the_flow_and_prints_read_loaded_quarantined_per_file(
    tmp_path: Path, pg_env: str
) -> None:
    write_dataset(
        tmp_path,
        sessions=[
            "S000001,U0001,M001,2024-02-30,18,36.1,Smart TV,4K",
            "S000002,U0002,S001,2024-07-13,25,88.8,Mobile,HD",
        ],
    )
    result = CliRunner().invoke(app, ["ingest", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = {
        line.split()[0]: line.split()[1:]
        for line in result.output.splitlines()
        if line.split()[:1]
        and line.split()[0] in ("users.csv", "content.json", "viewing_sessions.csv")
    }
    assert rows["users.csv"][:4] == ["loaded", "3", "3", "0"]
    assert rows["content.json"][:4] == ["loaded", "2", "2", "0"]
    assert rows["viewing_sessions.csv"][:4] == ["loaded", "2", "1", "1"]
    conn = psycopg2.connect(pg_env)
    with conn.cursor() as cur:
        cur.execute("select count(*) from audit.load_batches where status = 'loaded'")
        assert cur.fetchone()[0] == 3
    conn.close()

    again = CliRunner().invoke(app, ["ingest", "--data-dir", str(tmp_path)])
    assert again.exit_code == 0, again.output
    assert [
        line.split()[1]
        for line in again.output.splitlines()
        if line.split()[1:2] in (["loaded"], ["skipped"])
    ] == ["skipped"] * 3


def test_flow_task_retries_connection_errors_but_never_data_errors(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.ingest as ingest_flows
    from streamlytics.ingest import db

    write_dataset(tmp_path)
    users = preflight(tmp_path)[0]
    attempts: list[str] = []
    real_connect = db.connect

    def counting_connect(url: str):
        attempts.append(url)
        return real_connect(url)

    monkeypatch.setattr(ingest_flows.db, "connect", counting_connect)
    task = ingest_flows.load_file_task.with_options(retry_delay_seconds=0)

    @flow
    def load_one(source, database_url: str):
        return task(source, database_url)

    closed_port = re.sub(r"@([^:/]+):\d+/", r"@\1:1/", pg_url)
    with pytest.raises(psycopg2.OperationalError):
        load_one(users, closed_port)
    assert len(attempts) == 4  # the first try and 3 retries

    attempts.clear()
    conn = real_connect(pg_url)
    db.apply_schema(conn)
    conn.close()
    with pytest.raises(SourceChangedError):
        load_one(dataclasses.replace(users, signature=(0, 0, 0)), pg_url)
    assert len(attempts) == 1


def test_retry_condition_accepts_only_connection_errors() -> None:
    from prefect.states import Failed

    from flows.ingest import retry_on_connection_error

    assert retry_on_connection_error(
        None, None, Failed(data=psycopg2.OperationalError("server closed"))
    )
    assert retry_on_connection_error(
        None, None, Failed(data=psycopg2.InterfaceError("connection already closed"))
    )
    assert not retry_on_connection_error(
        None, None, Failed(data=InvariantError("3 read, 2 loaded"))
    )
    assert not retry_on_connection_error(
        None, None, Failed(data=psycopg2.errors.InvalidTextRepresentation("x"))
    )
