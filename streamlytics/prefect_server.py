"""Prefect's temporary API server, started before Prefect is even imported.

Why not let Prefect start it: without ``PREFECT_API_URL`` Prefect starts the same server
(``uvicorn prefect.server.api.server:create_app``, UI off, ephemeral services) when the first
flow begins, after the caller has imported Prefect, and it first imports the whole server
package into the caller only to launch a subprocess (≈ 4 s of CPU on our machine). Started here,
at the top of ``streamlytics run``, the server boots on one core while the caller imports
Prefect and the pipeline on the other, and the caller never imports the server.

Nothing changes when ``PREFECT_API_URL`` is set: the flow then reports to that server.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

PORT_IN_USE = 3  # uvicorn's exit code when it cannot bind


class PrefectServerError(RuntimeError):
    """The temporary server did not answer its health check in time."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _site_packages() -> str:
    spec = importlib.util.find_spec("prefect")  # locates the package without importing it
    assert spec is not None and spec.origin is not None, "prefect is not installed"
    return str(Path(spec.origin).parent.parent)


class TemporaryServer:
    """One Prefect API server on a free loopback port, for the lifetime of one command."""

    def __init__(self) -> None:
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._stop_registered = False

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> TemporaryServer:
        """Launch the server (returns at once) and point this process's Prefect at it."""
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        # The flags Prefect's own temporary server runs with: no UI, the ephemeral set of services.
        env.update(PREFECT_UI_ENABLED="0", PREFECT__SERVER_EPHEMERAL="1", PREFECT__SERVER_FINAL="1")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                _site_packages(),
                "--factory",
                "prefect.server.api.server:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "error",
                "--lifespan",
                "on",
            ],
            env=env,
        )
        # Read by Prefect when it is imported, and inherited by every stage process.
        os.environ["PREFECT_API_URL"] = self.api_url
        if not self._stop_registered:
            # Registered before Prefect is imported, so it runs after Prefect's own exit handlers
            # (last in, first out) have sent the last logs and events: stopping the server earlier
            # leaves them retrying against a closed port for a minute.
            atexit.register(self.stop)
            self._stop_registered = True
        return self

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until the API answers /health; restart on another port if this one was taken."""
        if timeout is None:
            timeout = float(
                os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "20")
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            code = self.process.poll()
            if code == PORT_IN_USE:
                self.start()
                continue
            if code is not None:
                raise PrefectServerError(
                    f"Prefect's temporary server exited with code {code} while starting"
                )
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise PrefectServerError(
            f"Prefect's temporary server did not answer within {timeout:g} s "
            "(raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS on a busy machine)"
        )

    def stop(self) -> None:
        """Stop the server (also done at interpreter exit, after Prefect has flushed its logs)."""
        if self.process is None:
            return
        from streamlytics.services._process import stop_process

        stop_process(self.process.pid, timeout=5)  # SIGTERM, then SIGKILL for it and its children
        self.process.wait()  # reap it
        self.process = None
        if os.environ.get("PREFECT_API_URL") == self.api_url:
            del os.environ["PREFECT_API_URL"]


def start_unless_configured() -> TemporaryServer | None:
    """A started temporary server, or None when PREFECT_API_URL names a server already."""
    if os.environ.get("PREFECT_API_URL"):
        return None
    return TemporaryServer().start()
