"""The Spark engine's local server: `streamlytics --warehouse spark services ...` through the CLI.

PostgreSQL, MongoDB and Prefect are the session's servers, given as the user's (their start is
tested in test_services.py), so each `up` here starts one JVM: the Spark Connect server.
"""

from __future__ import annotations

import os
import subprocess

import psutil
from test_services import processes_using, run_cli


def _env(service_urls: dict[str, str], tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARK_")}
    env.update(
        STREAMLYTICS_STATE_DIR=str(tmp_path / "state"),
        DATABASE_URL=service_urls["postgres"],
        MONGODB_URI=service_urls["mongo"],
        PREFECT_API_URL=service_urls["prefect"],
    )
    return env


def _spark_exports(stdout: str) -> tuple[str, str]:
    """Evaluate `services env` in a real shell; the engine and SPARK_REMOTE it leaves set."""
    script = stdout + '\nprintf "%s\\n%s\\n" "$STREAMLYTICS_WAREHOUSE" "$SPARK_REMOTE"'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    engine, remote = out.stdout.splitlines()
    return engine, remote


def test_spark_engine_starts_a_local_connect_server_that_clients_reach_and_down_stops(
    service_urls, tmp_path
):
    env = _env(service_urls, tmp_path)
    state = tmp_path / "state" / "spark"
    up = run_cli("--warehouse", "spark", "services", "up", env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    assert processes_using(state / "warehouse"), "a Spark Connect server should be running"

    engine, remote = _spark_exports(
        run_cli("--warehouse", "spark", "services", "env", env=env).stdout
    )
    assert engine == "spark" and remote.startswith("sc://127.0.0.1:")
    # A client on the exported URL writes a table: its files and metastore are in the state folder.
    from pyspark.sql import SparkSession

    session = SparkSession.builder.remote(remote).create()
    try:
        session.sql("create database if not exists svc_test")
        session.sql("create table svc_test.kept (id int) using parquet")
        session.sql("insert into svc_test.kept values (7)")
        assert session.sql("select id from svc_test.kept").collect()[0].id == 7
    finally:
        session.stop()
    assert list((state / "warehouse" / "svc_test.db" / "kept").glob("*.parquet"))
    assert (state / "metastore_db").is_dir() and not (tmp_path / "metastore_db").exists()

    # The engine is also taken from the variable; status names the server and its version.
    status = run_cli("services", "status", env={**env, "STREAMLYTICS_WAREHOUSE": "spark"})
    assert status.returncode == 0, status.stdout + status.stderr
    assert "spark" in status.stdout and "4.3.0" in status.stdout

    # With the PostgreSQL engine nothing of Spark is exported, and status says it is not in use.
    assert "SPARK_REMOTE" not in run_cli("services", "env", env=env).stdout
    assert "not in use" in " ".join(run_cli("services", "status", env=env).stdout.split())

    down = run_cli("services", "down", env=env)
    assert down.returncode == 0 and "spark" in down.stdout, down.stdout
    assert processes_using(state / "warehouse") == []
    assert "not running" in run_cli("--warehouse", "spark", "services", "status", env=env).stdout


def test_spark_remote_is_used_and_nothing_is_started(service_urls, spark_remote, tmp_path):
    env = {**_env(service_urls, tmp_path), "SPARK_REMOTE": spark_remote}
    pids_before = {p.pid for p in psutil.process_iter()}
    up = run_cli("--warehouse", "spark", "services", "up", env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    assert not (tmp_path / "state" / "spark").exists()
    started_java = [
        p
        for p in psutil.process_iter(["pid", "name"])
        if p.pid not in pids_before and "java" in (p.info["name"] or "")
    ]
    assert started_java == []
    _, remote = _spark_exports(run_cli("--warehouse", "spark", "services", "env", env=env).stdout)
    assert remote == spark_remote
    status = run_cli("--warehouse", "spark", "services", "status", env=env)
    assert status.returncode == 0 and "yours" in status.stdout, status.stdout


def test_an_unknown_engine_is_refused_with_the_choices(tmp_path):
    env = {**os.environ, "STREAMLYTICS_STATE_DIR": str(tmp_path / "state")}
    res = run_cli("--warehouse", "oracle", "services", "status", env=env)
    assert res.returncode == 2
    message = " ".join(res.stderr.split())
    assert "'oracle'" in message and "postgres, spark" in message
    res = run_cli("services", "status", env={**env, "STREAMLYTICS_WAREHOUSE": "mysql"})
    assert res.returncode == 2 and "STREAMLYTICS_WAREHOUSE='mysql'" in " ".join(res.stderr.split())
