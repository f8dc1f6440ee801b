"""The project's own Prefect server (API and UI), its database on the project's PostgreSQL.

Every flow the project runs (``streamlytics run``, each CLI stage, the served deployments)
reports to this one lasting server, so the UI lists every run with its task runs and logs.
Its database is a database of its own (``prefect``) on the server ``services.database_url()``
names, reached with the same user and password: PostgreSQL takes concurrent writes, where
Prefect's default SQLite answers them with 503 "database is locked".

The server is ``prefect server start`` in a process of its own session, so it outlives the
command that started it; its port is kept across restarts (state.json), like the other
embedded services.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from streamlytics.services._process import (
    ServerFolder,
    free_port,
    log_tail,
    stop_process,
    write_json,
)
from streamlytics.services.postgres import ServiceError

DB_NAME = "prefect"
DEFAULT_PORT = 4200
START_TIMEOUT_SECONDS = (
    180  # the first start migrates an empty database; a busy 2-core machine is slow
)


def prefect_database_url(database_url: str, name: str = DB_NAME) -> str:
    """The asyncpg URL of database ``name`` on the server (and as the user) of ``database_url``."""
    parts = urlsplit(database_url)
    # libpq query options (sslmode, options...) mean nothing to asyncpg: the path alone is kept.
    return urlunsplit(parts._replace(scheme="postgresql+asyncpg", path=f"/{name}", query=""))


def ensure_database(database_url: str, name: str = DB_NAME) -> None:
    """Create database ``name`` on the server of ``database_url`` unless it exists."""
    import psycopg2

    conn = psycopg2.connect(database_url, connect_timeout=10)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(f'create database "{name}"')
    except psycopg2.Error as exc:
        raise ServiceError(
            f"cannot create the Prefect server's database {name!r}: {str(exc).strip()}. "
            "Create it yourself, or set PREFECT_API_URL to a Prefect server of your own."
        ) from exc
    finally:
        conn.close()


def api_health(api_url: str, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as response:
            return response.status == 200 and json.loads(response.read()) is True
    except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
        return False


def api_version(api_url: str, timeout: float = 5) -> str:
    """The server's Prefect version; ServiceError when it does not answer."""
    try:
        with urllib.request.urlopen(f"{api_url}/admin/version", timeout=timeout) as response:
            return str(json.loads(response.read()))
    except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError) as exc:
        raise ServiceError(
            f"the Prefect server at {api_url} is unreachable: {exc}. "
            "Check PREFECT_API_URL, or unset it to use the project's own server."
        ) from exc


@dataclass
class EmbeddedPrefect(ServerFolder):
    """``<state>/prefect``: PREFECT_HOME of the server, server.log and state.json live here."""

    def ui_url(self) -> str | None:
        port = self.port
        return f"http://127.0.0.1:{port}" if port else None

    def url(self) -> str | None:
        """The API URL (what PREFECT_API_URL is set to)."""
        ui = self.ui_url()
        return f"{ui}/api" if ui else None

    def pid_needle(self) -> str:
        # The port on its command line tells our server from a reused pid.
        return f"server start --host 127.0.0.1 --port {self.port}"

    def environment(self, database_url: str, port: int) -> dict[str, str]:
        """The server's environment: its home, its database, its address, telemetry off."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(
            PREFECT_HOME=str(self.root / "home"),
            PREFECT_API_DATABASE_CONNECTION_URL=prefect_database_url(database_url),
            # The UI asks the API at 127.0.0.1:4200 unless told otherwise: on any other port
            # (4200 taken, by another Prefect say) its pages would show that server's runs, or
            # 404 for ours.
            PREFECT_SERVER_API_HOST="127.0.0.1",
            PREFECT_SERVER_API_PORT=str(port),
            PREFECT_UI_API_URL=f"http://127.0.0.1:{port}/api",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_UI_ENABLED="true",
            DO_NOT_TRACK="1",
        )
        return env

    def start(self, database_url: str) -> str:
        """Start the server (idempotent) on ``database_url``'s PostgreSQL; return its API URL."""
        if self.is_running():
            self._wait_healthy(None)
            return self.url()  # type: ignore[return-value]
        ensure_database(database_url)
        self.root.mkdir(parents=True, exist_ok=True)
        port = free_port(self.port or DEFAULT_PORT)
        prefect = Path(sys.executable).with_name("prefect")
        cmd = [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                cmd,
                env=self.environment(database_url, port),
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # outlives the CLI call that started it
            )
        write_json(self.state_file, {"port": port, "pid": proc.pid})
        self._wait_healthy(proc)
        return self.url()  # type: ignore[return-value]

    def _wait_healthy(self, proc: subprocess.Popen | None) -> None:
        api = self.url()
        assert api is not None
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not api_health(api):
            if proc is not None and proc.poll() is not None:
                raise ServiceError(
                    f"the Prefect server exited with code {proc.returncode} while starting; "
                    f"{self.log_file} ends with:\n{log_tail(self.log_file)}"
                )
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"the Prefect server did not answer on {api} within "
                    f"{START_TIMEOUT_SECONDS} s; see {self.log_file}:\n{log_tail(self.log_file)}"
                )
            time.sleep(0.25)

    def stop(self) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        stop_process(pid, timeout=20)
        return True
