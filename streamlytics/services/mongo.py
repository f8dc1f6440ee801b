"""The project's own MongoDB wire-protocol server: nx-27017 (SQLite-backed), on loopback TCP.

No registry reachable from our machines ships a real ``mongod``; nx-27017 is the most complete
wire-protocol server available (see README "MongoDB server"). Code in mongo/ is plain MongoDB
and runs unchanged against a real server named by ``MONGODB_URI``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from streamlytics.services._process import (
    ServerFolder,
    free_port,
    stop_process,
    wait_for_port,
    write_json,
)
from streamlytics.services.postgres import ServiceError

# nx-27017 answers one request at a time; a long aggregation must not be cancelled by
# pymongo's default 20 s connect timeout (which it also applies to socket reads here).
URI_OPTIONS = "connectTimeoutMS=300000&socketTimeoutMS=600000&serverSelectionTimeoutMS=20000"


@dataclass
class EmbeddedMongo(ServerFolder):
    """``<state>/mongo``: data/, server.log, nx.pid and state.json live here."""

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def server_pid_file(self) -> Path:
        return self.root / "nx.pid"

    def url(self) -> str | None:
        port = self.port
        return f"mongodb://127.0.0.1:{port}/?{URI_OPTIONS}" if port else None

    def pid_needle(self) -> str:
        # The data folder on its command line tells our server from a reused pid.
        return str(self.data_dir)

    def start(self) -> str:
        if self.is_running():
            return self.url()  # type: ignore[return-value]
        # Anything recorded now is stale (crash, kill -9, reboot): nx-27017 refuses to start
        # while its own pid file exists, so clear it.
        self.server_pid_file.unlink(missing_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # nx-27017 has no authentication: any local account can reach its port (README), but
        # only the account that started it can read its files.
        self.root.chmod(0o700)
        port = free_port(self.port)
        server = Path(sys.executable).with_name("nx-27017")
        cmd = [
            str(server) if server.exists() else sys.executable,
            *([] if server.exists() else ["-m", "nx_27017"]),
            "--data-dir",
            str(self.data_dir),
            "--host",
            "127.0.0.1",
            "-p",
            str(port),
            "--log-file",
            str(self.log_file),
            "--pid-file",
            str(self.server_pid_file),
        ]
        with open(self.root / "stdout.log", "ab") as out:
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # outlives the CLI call that started it
            )
        write_json(self.state_file, {"port": port, "pid": proc.pid})
        if not wait_for_port(port, timeout=30):
            proc.kill()
            raise ServiceError(
                f"MongoDB server (nx-27017) did not listen on 127.0.0.1:{port} within 30 s; "
                f"see {self.log_file} and {self.root / 'stdout.log'}"
            )
        self._wait_ping()
        return self.url()  # type: ignore[return-value]

    def _wait_ping(self, timeout: float = 30) -> None:
        import pymongo

        deadline = time.monotonic() + timeout
        while True:
            try:
                with pymongo.MongoClient(self.url(), serverSelectionTimeoutMS=2000) as client:
                    client.admin.command("ping")
                return
            except pymongo.errors.PyMongoError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        stop_process(pid)
        self.server_pid_file.unlink(missing_ok=True)
        return True
