"""`streamlytics services`: the local servers a user relies on, driven through the real CLI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import psycopg2
import pymongo
import pytest

from streamlytics.services._process import free_port

CLI = [sys.executable, "-m", "streamlytics.cli"]


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    # The tests read the exit code: a failing command is an outcome, not an error here.
    return subprocess.run(
        [*CLI, *args], check=False, env=env, capture_output=True, text=True, timeout=180
    )


def processes_using(path: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if str(path) in " ".join(proc.info["cmdline"] or []):
                found.append(proc)
        except psutil.NoSuchProcess:
            pass
    return found


def exported(stdout: str) -> dict[str, str]:
    """Evaluate `services env` output in a real shell and read the variables back."""
    script = (
        stdout + '\nprintf \'%s\\n%s\\n%s\\n\' "$DATABASE_URL" "$MONGODB_URI" "$PREFECT_API_URL"'
    )
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    db, mongo, prefect = out.splitlines()
    return {"DATABASE_URL": db, "MONGODB_URI": mongo, "PREFECT_API_URL": prefect}


def prefect_server_pid(state: Path) -> int | None:
    """The pid services up recorded for the state folder's Prefect server, if it still runs."""
    import json

    try:
        pid = json.loads((state / "prefect" / "state.json").read_text())["pid"]
    except (FileNotFoundError, KeyError):
        return None
    return pid if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" else None


@pytest.fixture
def isolated_env(tmp_path: Path):
    """Environment for a CLI whose embedded servers live in their own state folder."""
    own = ("DATABASE_URL", "MONGODB_URI", "PREFECT_API_URL")
    env = {k: v for k, v in os.environ.items() if k not in own}
    env["STREAMLYTICS_STATE_DIR"] = str(tmp_path / "state")
    yield env
    run_cli("services", "down", env=env)
    prefect = prefect_server_pid(tmp_path / "state")
    leftovers = processes_using(tmp_path / "state") + ([psutil.Process(prefect)] if prefect else [])
    for proc in leftovers:  # never leave a server behind, even when the test failed
        proc.kill()


def test_up_down_up_again_with_clients_connecting(isolated_env, tmp_path):
    state = tmp_path / "state"
    first = run_cli("services", "up", env=isolated_env)
    assert first.returncode == 0, first.stderr

    env_out = run_cli("services", "env", env=isolated_env)
    assert env_out.returncode == 0, env_out.stderr
    urls = exported(env_out.stdout)
    with psycopg2.connect(urls["DATABASE_URL"]) as conn, conn.cursor() as cur:
        cur.execute("select 1")
        assert cur.fetchone() == (1,)
    with pymongo.MongoClient(urls["MONGODB_URI"]) as client:
        assert client.admin.command("ping")["ok"] == 1
        client.svc_test.items.insert_one({"_id": "persisted"})
    # The Prefect server answers on the exported API URL, its database on that PostgreSQL.
    from urllib.request import urlopen

    with urlopen(f"{urls['PREFECT_API_URL']}/health", timeout=10) as response:
        assert response.read() == b"true"
    with psycopg2.connect(urls["DATABASE_URL"]) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from pg_database where datname = 'prefect'")
        assert cur.fetchone() == (1,)

    # server_pids names each server's own process: the one listening on its exported port.
    from dataclasses import replace
    from urllib.parse import urlsplit

    from streamlytics.config import settings
    from streamlytics.services import server_pids
    from streamlytics.services._process import listens_on

    cfg = replace(settings(), state_dir=state)
    pids = server_pids(cfg)
    assert set(pids) == {"postgres", "mongo", "prefect"}
    for name, url in (
        ("postgres", urls["DATABASE_URL"]),
        ("mongo", urls["MONGODB_URI"]),
        ("prefect", urls["PREFECT_API_URL"]),
    ):
        assert listens_on(pids[name], urlsplit(url).port), name

    again = run_cli("services", "up", env=isolated_env)  # second up is harmless
    assert again.returncode == 0, again.stderr
    assert exported(run_cli("services", "env", env=isolated_env).stdout) == urls

    status = run_cli("services", "status", env=isolated_env)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "18." in status.stdout  # PostgreSQL server version is reported
    ui = urls["PREFECT_API_URL"].removesuffix("/api")
    assert f"Prefect UI: {ui}" in status.stdout  # where to open the UI

    down = run_cli("services", "down", env=isolated_env)
    assert down.returncode == 0
    assert "postgres" in down.stdout and "mongo" in down.stdout and "prefect" in down.stdout
    assert processes_using(state) == [] and prefect_server_pid(state) is None
    assert server_pids(cfg) == {}
    assert run_cli("services", "status", env=isolated_env).returncode == 1

    third = run_cli("services", "up", env=isolated_env)
    assert third.returncode == 0, third.stderr
    urls_after = exported(run_cli("services", "env", env=isolated_env).stdout)
    with pymongo.MongoClient(urls_after["MONGODB_URI"]) as client:
        assert client.svc_test.items.find_one({"_id": "persisted"}) is not None  # data persisted


def test_only_the_holder_of_the_password_gets_in_and_down_after_eval_stops_everything(
    isolated_env, tmp_path
):
    """One `services up` for both checks: each up starts a Prefect server, which takes a while."""
    state = tmp_path / "state"
    assert run_cli("services", "up", env=isolated_env).returncode == 0
    out = run_cli("services", "env", env=isolated_env).stdout
    env = {**isolated_env, **exported(out)}

    # Only the holder of the generated password gets in (scram-sha-256, no trust).
    url = env["DATABASE_URL"]
    password_file = state / "postgres" / "password"
    password = password_file.read_text().strip()
    assert len(password) >= 24 and f":{password}@" in url and f"PGPASSWORD={password}" in out
    assert password_file.stat().st_mode & 0o777 == 0o600
    assert password_file.stat().st_uid == os.getuid()
    with pytest.raises(psycopg2.OperationalError, match="password"):
        psycopg2.connect(url.replace(f":{password}@", "@"), connect_timeout=5)
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(url.replace(password, "x" + password[1:]), connect_timeout=5)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("select auth_method from pg_hba_file_rules where auth_method is not null")
        assert {row[0] for row in cur.fetchall()} == {"scram-sha-256"}
        cur.execute("select rolpassword like 'SCRAM-SHA-256$%' from pg_authid")
        assert all(row[0] for row in cur.fetchall() if row[0] is not None)
    assert (state / "mongo").stat().st_mode & 0o077 == 0  # files: owner only

    # After eval "$(services env)" the variables name the project's servers: still the project's.
    status = run_cli("services", "status", env=env)
    assert status.returncode == 0, status.stdout
    assert "project's" in status.stdout and "yours" not in status.stdout

    down = run_cli("services", "down", env=env)
    assert down.returncode == 0, down.stderr
    for name in ("postgres", "mongo", "prefect"):
        assert name in down.stdout, down.stdout
    assert processes_using(state) == [] and prefect_server_pid(state) is None
    # With the variables still set, `up` starts the project's servers again on the same ports.
    assert run_cli("services", "up", env=env).returncode == 0
    with psycopg2.connect(env["DATABASE_URL"]) as conn, conn.cursor() as cur:
        cur.execute("select 1")


def test_stale_pids_after_a_crash_are_handled(isolated_env, tmp_path):
    assert run_cli("services", "up", env=isolated_env).returncode == 0
    state = tmp_path / "state"
    victims = processes_using(state)
    assert victims, "servers should be running"
    for proc in victims:  # simulate a crash: no clean shutdown, pid files stay behind
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(victims, timeout=10)
    assert (state / "postgres" / "data" / "postmaster.pid").exists()

    restarted = run_cli("services", "up", env=isolated_env)
    assert restarted.returncode == 0, restarted.stderr
    assert run_cli("services", "status", env=isolated_env).returncode == 0


def test_external_urls_are_used_and_nothing_is_started(service_urls, tmp_path):
    env = dict(os.environ)
    env["STREAMLYTICS_STATE_DIR"] = str(tmp_path / "state")
    env["DATABASE_URL"] = service_urls["postgres"]
    env["MONGODB_URI"] = service_urls["mongo"]
    env["PREFECT_API_URL"] = service_urls["prefect"]

    up = run_cli("services", "up", env=env)
    assert up.returncode == 0, up.stderr
    assert processes_using(tmp_path / "state") == []
    assert not (tmp_path / "state" / "postgres").exists()
    assert exported(run_cli("services", "env", env=env).stdout) == {
        "DATABASE_URL": service_urls["postgres"],
        "MONGODB_URI": service_urls["mongo"],
        "PREFECT_API_URL": service_urls["prefect"],
    }
    assert not (tmp_path / "state" / "prefect").exists()
    down = run_cli("services", "down", env=env)  # never stops a server it did not start
    assert "nothing was running" in down.stdout
    assert "left alone: postgres" in down.stdout and "(your server)" in down.stdout
    with psycopg2.connect(service_urls["postgres"]) as conn, conn.cursor() as cur:
        cur.execute("select 1")  # the user's server still answers
    status = run_cli("services", "status", env=env)
    assert status.returncode == 0 and "external" in status.stdout


def test_unreachable_database_url_is_a_clear_error(tmp_path):
    env = dict(os.environ)
    env["STREAMLYTICS_STATE_DIR"] = str(tmp_path / "state")
    env["DATABASE_URL"] = f"postgresql://someone:secret@127.0.0.1:{free_port()}/nowhere"
    res = run_cli("services", "up", env=env)
    assert res.returncode != 0
    message = " ".join(res.stderr.split())
    assert "PostgreSQL at postgresql://someone:***@127.0.0.1" in message
    assert "unreachable" in message
    assert "secret" not in res.stderr  # passwords are never printed
    assert processes_using(tmp_path / "state") == []


def test_a_data_folder_made_with_trust_gets_a_password_on_its_next_start(tmp_path):
    from streamlytics.services.postgres import EmbeddedPostgres

    server = EmbeddedPostgres(tmp_path / "postgres")
    server.start()
    try:
        # What an older version of the project left: trust on 127.0.0.1 and no password file.
        server.stop()
        hba = server.data_dir / "pg_hba.conf"
        hba.write_text("host all all 127.0.0.1/32 trust\n")
        server.password_file.unlink()
        url = server.start()
        assert server.password_file.stat().st_mode & 0o777 == 0o600
        assert "trust" not in hba.read_text()
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute("select 1")
        with pytest.raises(psycopg2.OperationalError, match="password"):
            psycopg2.connect(url.replace(f":{server.password()}@", "@"), connect_timeout=5)
    finally:
        server.stop()


def test_a_port_answered_by_another_process_is_not_taken_for_our_servers(tmp_path):
    """The Spark start waits for its own process to listen: a port that accepts connections
    because another checkout's server took it must not pass for ours."""
    from streamlytics.services._process import listens_on

    with socket.socket() as ours:
        ours.bind(("127.0.0.1", 0))
        ours.listen()
        port = ours.getsockname()[1]
        other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            assert listens_on(os.getpid(), port)
            assert not listens_on(other.pid, port)
            assert not listens_on(os.getpid(), free_port())
        finally:
            other.kill()
            other.wait()
