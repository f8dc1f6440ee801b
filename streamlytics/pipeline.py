"""The pipeline's stages, their order and their gates, as plain functions (no Prefect here).

flows/pipeline.py runs each stage as a Prefect task and lets Prefect order them by the stages
they need (``wait_for``); this module says which stage needs which, turns a stage's outcome
into what run_summary.json records, and writes that summary.

Gates: a stage that fails - by an exception or by a failed check it reports (GateFailed) -
blocks every stage that needs it; those are recorded as skipped, with the name of the blocking
stage.
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable, Mapping, Sequence
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

    def __reduce__(self) -> tuple[Any, ...]:  # the detail survives a trip between processes
        return (type(self), (str(self), self.detail))


@dataclass
class RunContext:
    cfg: Settings
    data_dir: Path
    database_url: str
    mongodb_uri: str
    reports_dir: Path


@dataclass(frozen=True)
class Stage:
    name: str
    needs: tuple[str, ...] = ()
    """Stages that must have completed for this one to run."""
    description: str = ""


# Everything that publishes (MongoDB, report, Tableau) waits for both validation gates.
PUBLISH_GATES = ("validate-raw", "validate-marts")

PIPELINE: tuple[Stage, ...] = (
    Stage("ingest", (), "raw files → raw landing tables (COPY), bad rows quarantined"),
    Stage("validate-raw", ("ingest",), "Great Expectations on the raw landing"),
    # dbt builds even when the raw gate fails: staging quarantines the offending rows, and the
    # data team needs that quarantine to act on. Nothing is *published* past a failed gate.
    Stage("transform", ("ingest",), "dbt build: staging → core → marts, with tests"),
    Stage("validate-marts", ("transform",), "Great Expectations on the marts"),
    Stage("publish", PUBLISH_GATES, "marts → MongoDB collections and pipelines"),
    Stage("analyze", PUBLISH_GATES, "statistics and the HTML report"),
    Stage("export-tableau", PUBLISH_GATES, "Tableau Hyper extracts of the marts"),
    Stage("dashboards", PUBLISH_GATES, "the five web dashboards: one offline HTML page"),
)


@dataclass
class StageResult:
    name: str
    status: str  # completed | failed | skipped
    seconds: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    peak_rss_mb: float | None = None
    """Peak RSS of the process the stage ran in, when that was a process of its own (a worker of
    the process pool); None for stages run in the flow's process (it is the summary's figure)."""


class StageFailed(Exception):
    """A stage did not complete; ``result`` is what run_summary.json records about it."""

    def __init__(self, result: StageResult) -> None:
        super().__init__(result.message)
        self.result = result

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.result,))


def own_peak_rss_mb() -> float:
    """Peak RSS of this process and of the children it reaped, in MiB (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)


def run_stage(
    name: str,
    work: Callable[[RunContext], dict[str, Any] | None],
    ctx: RunContext,
    own_process: bool = False,
) -> StageResult:
    """Run one stage's work and return its StageResult; raise StageFailed when it did not
    complete (a GateFailed keeps its message and detail; any other error is named with its
    type, and stays the StageFailed's ``__cause__`` so a retry rule can look at it).

    ``own_process``: the stage runs in a process of its own, whose peak RSS is recorded.
    """
    start = time.perf_counter()

    def result(status: str, detail: dict[str, Any], message: str = "") -> StageResult:
        seconds = round(time.perf_counter() - start, 3)
        peak = own_peak_rss_mb() if own_process else None
        return StageResult(name, status, seconds, detail, message, peak)

    try:
        detail = work(ctx) or {}
    except GateFailed as exc:
        raise StageFailed(result("failed", exc.detail, str(exc))) from exc
    except Exception as exc:  # a stage's crash is reported with its cause
        raise StageFailed(result("failed", {}, f"{type(exc).__name__}: {exc}")) from exc
    return result("completed", detail)


def connection_errors() -> tuple[type[BaseException], ...]:
    """The errors that mean a server could not be reached: the only ones worth a retry (running
    the same stage on the same data again cannot fix any other)."""
    import psycopg2
    import pymongo.errors

    return (
        ConnectionError,
        psycopg2.OperationalError,
        psycopg2.InterfaceError,
        pymongo.errors.ConnectionFailure,
    )


def is_connection_error(exc: BaseException | None) -> bool:
    """True when ``exc``, or an error it was raised from, is a connection error."""
    kinds = connection_errors()
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kinds):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def blocked_by(stage: Stage, statuses: Mapping[str, str]) -> str | None:
    """The first stage ``stage`` needs that did not complete, or None when it may run."""
    for need in stage.needs:
        if statuses.get(need) != "completed":
            return need
    return None


def skipped(stage: Stage, blocker: str) -> StageResult:
    return StageResult(
        stage.name, "skipped", message=f"skipped: upstream stage '{blocker}' did not complete"
    )


def outcome_result(stage: Stage, outcome: object, statuses: Mapping[str, str]) -> StageResult:
    """The StageResult of ``stage`` from what its run left: its StageResult when it completed,
    the exception it failed with, or None when it never ran (then: skipped, naming why)."""
    if isinstance(outcome, StageResult):
        return outcome
    if isinstance(outcome, StageFailed):
        return outcome.result
    if isinstance(outcome, BaseException):  # failed before run_stage could say why
        return StageResult(stage.name, "failed", message=f"{type(outcome).__name__}: {outcome}")
    return skipped(stage, blocked_by(stage, statuses) or "?")


def check_pipeline(stages: Sequence[Stage]) -> None:
    """ValueError unless every stage needs only stages listed before it (so wiring them in
    this order always has the upstream futures at hand, and no stage waits on itself)."""
    seen: set[str] = set()
    for stage in stages:
        unknown = [need for need in stage.needs if need not in seen]
        if unknown:
            raise ValueError(f"stage {stage.name!r} needs {unknown}, not listed before it")
        seen.add(stage.name)


def peak_rss_mb(results: Sequence[StageResult] = ()) -> float:
    """Peak resident memory of the largest process of the run, in MiB (Linux: KiB units): this
    process, its finished children (dbt, the task runner's worker processes once stopped) and
    the peaks the stages recorded in their own processes."""
    stages = max((r.peak_rss_mb or 0.0 for r in results), default=0.0)
    return max(own_peak_rss_mb(), stages)


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
