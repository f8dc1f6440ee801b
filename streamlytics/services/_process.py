"""Small process and port helpers shared by the local service managers."""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(preferred: int | None = None, host: str = "127.0.0.1") -> int:
    """Return ``preferred`` if it can be bound, else a port the OS picks."""
    if preferred and port_is_free(preferred, host):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float, host: str = "127.0.0.1") -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def listens_on(pid: int, port: int) -> bool:
    """True when process ``pid`` or one of its children listens on TCP ``port``.

    A port that merely accepts connections may belong to another checkout's server that took it
    between our free-port check and our server's bind (two engineers starting Spark at once):
    only the listening process tells whose server answers.
    """
    try:
        parent = psutil.Process(pid)
        family = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return False
    for proc in family:
        try:
            connections = proc.net_connections(kind="tcp")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in connections):
            return True
    return False


def process_matches(pid: int | None, needle: str) -> bool:
    """True when ``pid`` is alive and its command line mentions ``needle``.

    Guards against a stale pid file whose number now belongs to an unrelated process
    (after a reboot, say).
    """
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return needle in " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def stop_process(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL: the process (and its children) are gone afterwards."""
    try:
        proc = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    procs = [proc, *proc.children(recursive=True)]
    for p in procs:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=timeout)


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def log_tail(path: Path, lines: int = 20) -> str:
    """The last lines of a server's log, for an error message that says why it did not start."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class ServerFolder:
    """A local server's state folder: ``state.json`` (its port and pid) and ``server.log``.

    The lifecycle the embedded servers share: the port is kept across restarts, and a recorded
    pid counts only while that process's command line still names this server (see pid()).
    """

    root: Path

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def port(self) -> int | None:
        return read_json(self.state_file).get("port")

    def pid_needle(self) -> str:
        """What the server's command line contains (its data folder, say)."""
        raise NotImplementedError

    def pid(self) -> int | None:
        pid = read_json(self.state_file).get("pid")
        return pid if process_matches(pid, self.pid_needle()) else None

    def is_running(self) -> bool:
        return self.pid() is not None
