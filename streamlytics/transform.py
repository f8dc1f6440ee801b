"""Run the dbt project (``dbt build``) and say what it did: counts, and every failure by node.

dbt runs as a subprocess of this interpreter's environment, pointed at the project's
PostgreSQL through the same variables ``streamlytics services env`` prints. A subprocess (rather
than dbt's in-process runner) keeps dbt's global state, logging and adapter registry out of the
caller, so the pipeline and tests can build several databases from one Python process.

The outcome is read from dbt's ``run_results.json`` (not from its console text): each model,
seed, data test and unit test with its status and message.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from streamlytics import dbt_relations
from streamlytics.config import Settings, settings

# run_results statuses dbt uses for a node that did not do its job.
FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})
WARN_STATUSES = frozenset({"warn"})
OUTPUT_TAIL_LINES = 40


def dbt_session_settings(cfg: Settings) -> dict[str, str]:
    """Session settings for dbt's own connections (libpq reads PGOPTIONS), not server-wide.

    A build runs one statement per thread over millions of rows, where the server's default
    work_mem (sized for many concurrent connections) makes the session-level sorts and hash
    aggregates spill to disk; its size comes from the machine (config.machine_work_mem_mb).
    """
    return {"work_mem": f"{cfg.dbt_work_mem_mb}MB"}


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def plain(line: str) -> str:
    """A dbt console line without its colour codes (for logs that are not a terminal)."""
    return _ANSI.sub("", line)


class TransformError(RuntimeError):
    """dbt could not run at all (not installed, no run results): nothing was built or tested."""


@dataclass(frozen=True)
class NodeOutcome:
    """One dbt node that failed or warned."""

    unique_id: str
    resource_type: str  # model, seed, test, unit_test, snapshot
    name: str
    status: str
    message: str
    failures: int | None = None
    """Failing rows, for a data test."""

    def describe(self) -> str:
        rows = f" ({self.failures} failing rows)" if self.failures else ""
        return f"{self.resource_type} {self.name}: {self.status}{rows} - {self.message}"


@dataclass
class TransformResult:
    """What one ``dbt build`` did."""

    return_code: int
    elapsed_seconds: float
    counts: dict[str, dict[str, int]]
    """resource type -> status -> nodes, e.g. {"model": {"success": 34}, "test": {"pass": 120}}."""
    failures: list[NodeOutcome] = field(default_factory=list)
    warnings: list[NodeOutcome] = field(default_factory=list)
    run_results_path: str = ""
    output_tail: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.return_code == 0 and not self.failures

    def _count(self, resource_type: str, statuses: Sequence[str]) -> int:
        by_status = self.counts.get(resource_type, {})
        return sum(by_status.get(status, 0) for status in statuses)

    def summary(self) -> dict[str, Any]:
        """Plain-JSON summary for run_summary.json: counts by kind, and each failure by node."""
        return {
            "status": "success" if self.ok else "failed",
            "models": self._count("model", ["success"]),
            "models_failed": self._count("model", ["error"]),
            "models_skipped": self._count("model", ["skipped"]),
            "seeds": self._count("seed", ["success"]),
            "tests_passed": self._count("test", ["pass"]),
            "tests_warned": self._count("test", ["warn"]),
            "tests_failed": self._count("test", ["fail", "error"]),
            "tests_skipped": self._count("test", ["skipped"]),
            "unit_tests_passed": self._count("unit_test", ["pass", "success"]),
            "unit_tests_failed": self._count("unit_test", ["fail", "error"]),
            "elapsed_seconds": round(self.elapsed_seconds, 2),
            "dbt_return_code": self.return_code,
            "failures": [asdict(f) for f in self.failures],
            "warnings": [asdict(w) for w in self.warnings],
        }


def dbt_executable() -> str:
    """The dbt installed beside this interpreter (the project's .venv), else the one on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    if beside.exists():
        return str(beside)
    found = shutil.which("dbt")
    if found is None:
        raise TransformError(
            "dbt is not installed: run `make install` (dbt-core and dbt-postgres are pinned)."
        )
    return found


def dbt_environment(cfg: Settings | None = None) -> dict[str, str]:
    """This process's environment plus what dbt needs to reach the project's PostgreSQL.

    The same values ``services.export_to_environ()`` sets, limited to PostgreSQL: dbt never
    talks to MongoDB, so a stopped MongoDB must not stop a build. PGOPTIONS carries
    dbt_session_settings() to every connection dbt opens; DBT_THREADS the machine's threads.
    dbt.log is written at info level unless DBT_LOG_LEVEL_FILE says otherwise: at dbt's default
    (debug) it also takes every statement and adapter event, which cost 1-3 s of a 19-21 s
    build at scale 1 (dbt's per-node work holds one core); a failing node's SQL stays in
    target/run either way.
    """
    from streamlytics import services

    cfg = cfg or settings()
    url = services.database_url(cfg)
    session = " ".join(f"-c {k}={v}" for k, v in dbt_session_settings(cfg).items())
    # Options the caller already set come last, so they win over ours.
    options = " ".join(part for part in (session, os.environ.get("PGOPTIONS", "")) if part)
    return {
        **os.environ,
        "DATABASE_URL": url,
        **services.pg_variables(url),
        "PGOPTIONS": options,
        "DBT_PROFILES_DIR": str(cfg.dbt_profiles_dir),
        "DBT_THREADS": str(cfg.dbt_threads),
        "DBT_LOG_LEVEL_FILE": os.environ.get("DBT_LOG_LEVEL_FILE") or "info",
        "DO_NOT_TRACK": "1",
    }


# dbt parses the whole project before it builds (≈ 6 s of CPU for a full parse here, ≈ 3 s when
# its saved partial-parse state is still valid). Parsing needs the project and the profile, not
# the data, so the pipeline starts it while the files are still being loaded: ``parse_ahead``
# runs ``dbt parse`` into the target folder the build will use, and ``run_build`` waits for it,
# then finds the saved state valid and skips the parse.
_pending_parses: dict[Path, subprocess.Popen[bytes]] = {}
_parses_lock = threading.Lock()


def parse_ahead(
    target_path: Path | None = None, log_path: Path | None = None, cfg: Settings | None = None
) -> None:
    """Start ``dbt parse`` in the background for a later ``run_build`` with the same folders.

    Nothing depends on it succeeding: a parse that fails or is still running simply leaves the
    build to parse for itself (the build waits for it first, so two dbt processes never write
    the same target folder at once).
    """
    cfg = cfg or settings()
    target = Path(target_path) if target_path is not None else dbt_relations.target_dir(cfg)
    logs = Path(log_path) if log_path is not None else dbt_relations.log_dir(cfg)
    command = [
        dbt_executable(),
        "parse",
        "--project-dir",
        str(cfg.dbt_project_dir),
        "--profiles-dir",
        str(cfg.dbt_profiles_dir),
        "--target-path",
        str(target),
        "--log-path",
        str(logs),
        "--quiet",
    ]
    with _parses_lock:
        if target in _pending_parses:  # running, or done and not used by a build yet
            return
        _pending_parses[target] = subprocess.Popen(
            command,
            env=dbt_environment(cfg),
            cwd=cfg.dbt_project_dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


def _wait_for_parse(target: Path) -> None:
    with _parses_lock:
        process = _pending_parses.pop(target, None)
    if process is not None:
        process.wait()


def build_command(
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    full_refresh: bool = False,
    threads: int | None = None,
    target_path: Path | None = None,
    log_path: Path | None = None,
    cfg: Settings | None = None,
) -> list[str]:
    """The ``dbt build`` command line for these options."""
    cfg = cfg or settings()
    command = [
        dbt_executable(),
        "build",
        "--project-dir",
        str(cfg.dbt_project_dir),
        "--profiles-dir",
        str(cfg.dbt_profiles_dir),
    ]
    if target_path is not None:
        command += ["--target-path", str(target_path)]
    if log_path is not None:
        command += ["--log-path", str(log_path)]
    if select:
        command += ["--select", *select]
    if exclude:
        command += ["--exclude", *exclude]
    if full_refresh:
        command.append("--full-refresh")
    if threads is not None:
        command += ["--threads", str(threads)]
    return command


def node_name(unique_id: str) -> str:
    """Readable name of a node: a data test's name (without dbt's hash suffix), a unit test as
    ``<model>.<test>``, otherwise the node's own name."""
    parts = unique_id.split(".")
    if parts[0] == "test" and len(parts) >= 4:
        return parts[2]
    if parts[0] == "unit_test" and len(parts) >= 4:
        return f"{parts[2]}.{parts[3]}"
    return parts[-1]


def summarise_run_results(
    run_results: dict[str, Any],
) -> tuple[dict[str, dict[str, int]], list[NodeOutcome], list[NodeOutcome]]:
    """Counts by resource type and status, the failed nodes and the warned ones."""
    counts: dict[str, dict[str, int]] = {}
    failures: list[NodeOutcome] = []
    warnings: list[NodeOutcome] = []
    for result in run_results.get("results", []):
        unique_id = str(result.get("unique_id", ""))
        resource_type = unique_id.split(".", 1)[0]
        status = str(result.get("status", "")).lower()
        by_status = counts.setdefault(resource_type, {})
        by_status[status] = by_status.get(status, 0) + 1
        if status in FAILED_STATUSES or status in WARN_STATUSES:
            outcome = NodeOutcome(
                unique_id=unique_id,
                resource_type=resource_type,
                name=node_name(unique_id),
                status=status,
                message=" ".join(str(result.get("message") or "").split()),
                failures=result.get("failures"),
            )
            (failures if status in FAILED_STATUSES else warnings).append(outcome)
    return counts, failures, warnings


def run_build(
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    full_refresh: bool = False,
    threads: int | None = None,
    target_path: Path | None = None,
    log_path: Path | None = None,
    on_output: Callable[[str], None] | None = None,
    cfg: Settings | None = None,
) -> TransformResult:
    """Run ``dbt build`` and return its outcome; never raises for failed models or tests.

    ``target_path`` / ``log_path`` default to dbt's (dbt_relations.target_dir and log_dir: the
    project's target/ and logs/ unless DBT_TARGET_PATH / DBT_LOG_PATH say otherwise); give a private
    folder when several builds may run at once. ``on_output`` receives dbt's console lines as
    they come. Raises TransformError only when dbt produced no run results (it could not parse
    the project or reach the database): the last console lines say why.
    """
    cfg = cfg or settings()
    target = Path(target_path) if target_path is not None else dbt_relations.target_dir(cfg)
    logs = Path(log_path) if log_path is not None else dbt_relations.log_dir(cfg)
    command = build_command(select, exclude, full_refresh, threads, target, logs, cfg)
    run_results_path = target / "run_results.json"
    _wait_for_parse(target)
    # A stale file from an earlier build must never be read as this build's outcome.
    run_results_path.unlink(missing_ok=True)

    tail: deque[str] = deque(maxlen=OUTPUT_TAIL_LINES)
    started = time.perf_counter()
    with subprocess.Popen(
        command,
        env=dbt_environment(cfg),
        cwd=cfg.dbt_project_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip("\n")
            tail.append(line)
            if on_output is not None:
                on_output(line)
        return_code = process.wait()
    elapsed = time.perf_counter() - started

    if not run_results_path.exists():
        raise TransformError(
            f"dbt build exited with code {return_code} before running anything "
            f"(no {run_results_path}). Last output:\n" + "\n".join(tail)
        )
    counts, failures, warnings = summarise_run_results(json.loads(run_results_path.read_text()))
    return TransformResult(
        return_code=return_code,
        elapsed_seconds=elapsed,
        counts=counts,
        failures=failures,
        warnings=warnings,
        run_results_path=str(run_results_path),
        output_tail=list(tail),
    )
