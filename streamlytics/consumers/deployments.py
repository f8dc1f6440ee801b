"""The Prefect door: the deployments of prefect.yaml served on the project's Prefect server.

The server is one of the local services (``streamlytics services up``, services/prefect.py),
or the one PREFECT_API_URL names: the UI there lists the deployments next to every run of
``streamlytics run``. ``LocalPrefect`` supervises one child process, in its own process group
so that stopping it leaves nothing behind: a runner (``prefect.serve``) that registers every
deployment of prefect.yaml and executes the runs the scheduler, the UI or
``prefect deployment run`` create. Served deployments need no work pool and no worker.

prefect.yaml is the one description of the deployments: names, entrypoints, schedules,
parameters. ``prefect deploy --all`` reads the same file for users who prefer a worker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from streamlytics.config import settings


class PrefectServeError(RuntimeError):
    """The server or the runner did not come up; the message names the log to read."""


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment of prefect.yaml, in the terms ``prefect.serve`` needs."""

    name: str
    entrypoint: str
    description: str = ""
    tags: tuple[str, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)
    crons: tuple[tuple[str, str | None], ...] = ()
    """(cron expression, IANA timezone) pairs."""


def load_specs(config: Path) -> list[DeploymentSpec]:
    """The deployments declared in a prefect.yaml; ValueError names the entry that is wrong."""
    import yaml

    doc = yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}
    specs = []
    for index, entry in enumerate(doc.get("deployments") or []):
        where = f"{config}: deployments[{index}]"
        if not entry.get("name") or ":" not in str(entry.get("entrypoint", "")):
            raise ValueError(
                f"{where} needs a name and an entrypoint 'path/to/file.py:flow_function'"
            )
        crons = []
        for schedule in entry.get("schedules") or []:
            if "cron" not in schedule:
                raise ValueError(f"{where}: only cron schedules are supported here, got {schedule}")
            crons.append((str(schedule["cron"]), schedule.get("timezone")))
        specs.append(
            DeploymentSpec(
                name=str(entry["name"]),
                entrypoint=str(entry["entrypoint"]),
                description=" ".join(str(entry.get("description") or "").split()),
                tags=tuple(entry.get("tags") or ()),
                parameters=dict(entry.get("parameters") or {}),
                crons=tuple(crons),
            )
        )
    if not specs:
        raise ValueError(f"{config} declares no deployments")
    return specs


def serve_specs(config: Path) -> None:
    """Register every deployment of ``config`` and execute their runs until terminated.

    Runs in the runner child process; entrypoints are relative to the config's folder.
    """
    from prefect import serve
    from prefect.deployments.runner import RunnerDeployment
    from prefect.schedules import Cron

    os.chdir(Path(config).resolve().parent)
    deployments = [
        RunnerDeployment.from_entrypoint(
            spec.entrypoint,
            spec.name,
            schedules=[Cron(cron, timezone=tz) for cron, tz in spec.crons] or None,
            parameters=spec.parameters,
            description=spec.description or None,
            tags=list(spec.tags),
        )
        for spec in load_specs(config)
    ]
    serve(*deployments, pause_on_shutdown=True)


def _get_json(url: str, body: dict | None = None, timeout: float = 5) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop_group(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM the child's process group (it and every run it spawned), SIGKILL what outlives it."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        pass
    # Grandchildren that ignored SIGTERM may outlive their parent in the group.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class LocalPrefect:
    """The deployments of ``config`` served on the Prefect server at ``api_url``.

    Use as a context manager, or ``start()`` / ``stop()``. ``extra_env`` reaches the runner and
    every flow run (the services' URLs go here).
    """

    def __init__(
        self,
        api_url: str,
        home: Path | None = None,
        config: Path | None = None,
        extra_env: dict[str, str] | None = None,
        poll_seconds: int = 5,
    ) -> None:
        cfg = settings()
        self.api_url = api_url.rstrip("/")
        self.home = Path(home or cfg.state_dir / "prefect" / "runner").resolve()
        self.config = Path(config or cfg.project_root / "prefect.yaml").resolve()
        self.extra_env = dict(extra_env or {})
        self.poll_seconds = poll_seconds
        self.runner: subprocess.Popen | None = None

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    def environment(self) -> dict[str, str]:
        """What every child sees: this home, this API, telemetry off."""
        # Another server's address or profile must not leak in; other PREFECT_* settings may.
        foreign = {"PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE", "PREFECT_HOME"}
        env = {k: v for k, v in os.environ.items() if k not in foreign}
        env.update(self.extra_env)
        env.update(
            {
                "PREFECT_HOME": str(self.home),
                "PREFECT_API_URL": self.api_url,
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "PREFECT_RUNNER_POLL_FREQUENCY": str(self.poll_seconds),
                "DO_NOT_TRACK": "1",
            }
        )
        return env

    def _spawn(self, args: list[str], log_name: str, cwd: Path) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / log_name).open("ab") as log:
            return subprocess.Popen(
                args, cwd=cwd, env=self.environment(), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip

    def start(self, timeout: float = 180) -> Self:
        """Start the runner; return once every deployment is registered on the server."""
        names = [spec.name for spec in load_specs(self.config)]
        deadline = time.monotonic() + timeout
        self.runner = self._spawn(
            [sys.executable, "-m", "streamlytics.consumers.deployments", str(self.config)],
            "runner.log", self.config.parent,
        )  # fmt: skip
        try:
            self._wait(
                lambda: set(names) <= set(self.deployment_names()),
                self.runner,
                "runner.log",
                deadline,
            )
        except BaseException:
            self.stop()
            raise
        return self

    def _wait(self, ready, proc: subprocess.Popen, log_name: str, deadline: float) -> None:
        while True:
            if proc.poll() is not None:
                raise PrefectServeError(
                    f"the Prefect {log_name[:-4]} exited with code {proc.returncode}; "
                    f"{self.log_dir / log_name} ends with:\n{_tail(self.log_dir / log_name)}"
                )
            try:
                if ready():
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise PrefectServeError(
                    f"the Prefect {log_name[:-4]} was not ready in time; see {self.log_dir / log_name}:\n"
                    f"{_tail(self.log_dir / log_name)}"
                )
            time.sleep(0.5)

    def deployment_names(self) -> list[str]:
        """Names of the deployments the server knows."""
        rows = _get_json(f"{self.api_url}/deployments/filter", {"limit": 200})
        return sorted(row["name"] for row in rows)

    def stop(self, timeout: float = 20) -> None:
        """Stop the runner (its schedules are paused); idempotent. The server keeps running."""
        if self.runner is not None:
            _stop_group(self.runner, timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve_until_interrupted(on_ready=print) -> None:
    """`streamlytics serve`: serve the deployments on the project's Prefect server (started if
    needed), report the UI URL, stop the runner cleanly on Ctrl-C/SIGTERM."""
    from streamlytics import services

    services.up()
    local = LocalPrefect(services.prefect_api_url(), extra_env=services.service_environment())
    # SIGTERM (and SIGINT even when a background shell ignored it) take the same clean path as
    # Ctrl-C: the runner is stopped, not orphaned.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        local.start()
        on_ready(local)
        while True:
            if local.runner is not None and local.runner.poll() is not None:
                raise PrefectServeError(
                    f"the Prefect runner stopped (exit {local.runner.returncode}); "
                    f"see {local.log_dir / 'runner.log'}"
                )
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        local.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":  # the runner child process started by LocalPrefect
    serve_specs(Path(sys.argv[1]))
