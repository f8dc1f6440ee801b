"""The pipeline's stages, their order and their gates, as plain functions (no Prefect here).

flows/pipeline.py runs each stage as a Prefect subflow; this module decides what a stage does,
when a failure stops the stages after it, and what goes into run_summary.json.

Gates: a stage that fails — by an exception or by a failed check it reports — blocks every
stage that depends on it; those are recorded as skipped, with the name of the blocking stage.
"""

from __future__ import annotations

import contextvars
import json
import resource
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streamlytics.config import Settings


class GateFailed(Exception):
    """A stage ran but its check failed: downstream stages must not publish its input."""

    def __init__(self, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.detail = detail or {}


@dataclass
class RunContext:
    cfg: Settings
    data_dir: Path
    database_url: str
    mongodb_uri: str
    reports_dir: Path
    results: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Stage:
    name: str
    run: Callable[[RunContext], dict[str, Any]]
    needs: tuple[str, ...] = ()
    """Stages that must have completed for this one to run."""
    description: str = ""
    isolated: bool = False
    """Runs in a process of its own (CPU-bound Python that would hold the GIL; see stage_host)."""


@dataclass
class StageResult:
    name: str
    status: str  # completed | failed | skipped
    seconds: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    peak_rss_mb: float | None = None
    """Peak RSS of the stage's own process (isolated stages only; the others share the caller's)."""


def blocked_by(stage: Stage, results: dict[str, StageResult]) -> str | None:
    """The first prerequisite that did not complete, or None when the stage may run."""
    for need in stage.needs:
        res = results.get(need)
        if res is None or res.status != "completed":
            return need
    return None


def execute_stage(stage: Stage, ctx: RunContext) -> StageResult:
    """Run one stage, turning its outcome (value, GateFailed, any error) into a StageResult."""
    start = time.perf_counter()
    try:
        detail = stage.run(ctx) or {}
        status, message = "completed", ""
    except GateFailed as exc:
        detail, status, message = exc.detail, "failed", str(exc)
    except Exception as exc:  # a stage's crash is reported with its cause, not re-raised
        detail, status, message = {}, "failed", f"{type(exc).__name__}: {exc}"
    result = StageResult(stage.name, status, round(time.perf_counter() - start, 3), detail, message)
    ctx.results[stage.name] = result.detail
    return result


def skipped(stage: Stage, blocker: str) -> StageResult:
    return StageResult(
        stage.name, "skipped", message=f"skipped: upstream stage '{blocker}' did not complete"
    )


def run_dag(
    stages: list[Stage],
    execute: Callable[[Stage], StageResult],
    max_parallel: int = 3,
    on_skip: Callable[[StageResult], None] | None = None,
) -> list[StageResult]:
    """Run each stage as soon as every stage it needs has finished, independent ones side by side.

    A stage whose prerequisite did not complete is skipped (never executed). Results come back
    in the order of ``stages``. Each stage runs in a copy of the caller's context variables, so a
    Prefect subflow started in a worker thread still belongs to the calling flow run.
    """
    names = {stage.name for stage in stages}
    unknown = {need for stage in stages for need in stage.needs} - names
    if unknown:
        raise ValueError(f"stages need unknown stages: {sorted(unknown)}")
    results: dict[str, StageResult] = {}
    pending = list(stages)
    running: dict[Future[StageResult], Stage] = {}
    with ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="stage") as pool:
        while pending or running:
            ready = [s for s in pending if all(need in results for need in s.needs)]
            while ready:  # a skip can make further stages ready at once
                stage = ready.pop(0)
                pending.remove(stage)
                blocker = blocked_by(stage, results)
                if blocker:
                    results[stage.name] = skipped(stage, blocker)
                    if on_skip:
                        on_skip(results[stage.name])
                    ready = [s for s in pending if all(need in results for need in s.needs)]
                else:
                    context = contextvars.copy_context()
                    running[pool.submit(context.run, execute, stage)] = stage
            if not running:
                if pending:  # a cycle: nothing can start any more
                    raise ValueError(f"stages wait on each other: {[s.name for s in pending]}")
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                stage = running.pop(future)
                results[stage.name] = future.result()
    return [results[stage.name] for stage in stages]


def peak_rss_mb(results: Sequence[StageResult] = ()) -> float:
    """Peak resident memory of the largest process of the run, in MiB (Linux: KiB units): this
    process, its finished children (dbt, Prefect's server once stopped) and the stage processes."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    stages = max((r.peak_rss_mb or 0.0 for r in results), default=0.0)
    return max(round(max(own, children) / 1024, 1), stages)


def overview(results: list[StageResult]) -> dict[str, Any]:
    """The figures a reader looks for first, lifted out of each stage's detail."""
    by_name = {r.name: r.detail for r in results}
    out: dict[str, Any] = {"seconds_per_stage": {r.name: r.seconds for r in results}}
    if files := by_name.get("ingest", {}).get("files"):
        out["files"] = [
            {
                k: f.get(k)
                for k in ("file", "status", "lines_read", "rows_loaded", "rows_quarantined")
            }
            for f in files
        ]
    if dbt := by_name.get("transform"):
        out["dbt"] = {
            k: dbt.get(k)
            for k in (
                "status",
                "models",
                "tests_passed",
                "tests_failed",
                "unit_tests_passed",
                "unit_tests_failed",
            )
        }
    gx = {
        stage: by_name[f"validate-{stage}"].get("counts")
        for stage in ("raw", "marts")
        if by_name.get(f"validate-{stage}")
    }
    if gx:
        out["great_expectations"] = gx
    if collections := by_name.get("publish", {}).get("collections"):
        out["mongo_documents"] = {name: c.get("total") for name, c in collections.items()}
    if stats := by_name.get("analyze"):
        out["statistics"] = {
            "run_id": stats.get("run_id"),
            "seed_claims": stats.get("seed_findings"),
            "key_results": {
                name: {
                    k: r.get(k)
                    for k in ("effect_name", "effect", "ci_low", "ci_high", "p_adjusted", "verdict")
                }
                for name, r in (stats.get("key_results") or {}).items()
            },
            "retention_auc": (stats.get("retention") or {}).get("auc_logistic"),
        }
    return out


def write_summary(
    path: Path, results: list[StageResult], started: datetime, data_dir: Path
) -> dict[str, Any]:
    finished = datetime.now(UTC)
    summary = {
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "data_dir": str(data_dir),
        "status": "completed" if all(r.status == "completed" for r in results) else "failed",
        "seconds_wall": round((finished - started).total_seconds(), 3),
        "peak_rss_mb": peak_rss_mb(results),
        "summary_path": str(path),
        # stages name what they produced under detail["outputs"] = {label: path}
        "outputs": {k: v for r in results for k, v in r.detail.get("outputs", {}).items()},
        "overview": overview(results),
        "stages": [asdict(r) for r in results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, default=str))
    return summary
