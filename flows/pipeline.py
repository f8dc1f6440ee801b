"""The full pipeline as one Prefect flow: one task per stage, ordered by Prefect.

Thin by design: what each stage does lives in streamlytics/stages.py (and flows/ingest.py),
which stages need which and what run_summary.json says in streamlytics/pipeline.py; both are
tested without Prefect. Here, each stage is a task; a task starts when the stages it needs
have completed (``wait_for``), and Prefect leaves it NotReady when one of them did not - that
is the gate. Stages that do not need each other run side by side: the CPU-bound Python stages
(Great Expectations, publish, statistics, Tableau) in a process pool, so they do not take
turns for one GIL; ingest (COPY into PostgreSQL) and dbt (a subprocess) in threads.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, wait
from prefect.states import Failed
from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

from streamlytics import stages
from streamlytics.pipeline import (
    PIPELINE,
    RunContext,
    StageFailed,
    StageResult,
    check_pipeline,
    is_connection_error,
    outcome_result,
    run_stage,
    write_summary,
)

# Two cores: two stage processes at a time (publish ‖ analyze; Tableau follows the first done).
CPU_WORKERS = 2


def retry_on_connection_error(task_: Any, task_run: Any, state: Any) -> bool:
    """Prefect retry condition: retry a stage only when a server could not be reached."""
    error = state.result(raise_on_failure=False)
    if isinstance(error, StageFailed):
        error = error.__cause__  # what the stage raised
    return isinstance(error, BaseException) and is_connection_error(error)


STAGE_TASK: dict[str, Any] = {
    "cache_policy": NO_CACHE,
    "log_prints": True,
    "retries": 2,
    "retry_delay_seconds": 5,
    "retry_condition_fn": retry_on_connection_error,
}


@task(name="ingest", cache_policy=NO_CACHE, log_prints=True)
def ingest(ctx: RunContext) -> StageResult:
    # The ingest flow retries its own tasks on connection errors; it runs as a subflow here.
    from flows.ingest import ingest_flow

    return run_stage("ingest", lambda c: ingest_flow(str(c.data_dir)), ctx)


@task(name="validate-raw", **STAGE_TASK)
def validate_raw(ctx: RunContext) -> StageResult:
    return run_stage("validate-raw", stages.validate_raw, ctx, own_process=True)


@task(name="transform", **STAGE_TASK)
def transform(ctx: RunContext) -> StageResult:
    from streamlytics.transform import plain

    logger = get_run_logger()  # dbt's progress, line by line, in the run's log

    def log(line: str) -> None:
        logger.info("%s", plain(line))

    return run_stage("transform", lambda c: stages.transform(c, on_output=log), ctx)


@task(name="validate-marts", **STAGE_TASK)
def validate_marts(ctx: RunContext) -> StageResult:
    return run_stage("validate-marts", stages.validate_marts, ctx, own_process=True)


@task(name="publish", **STAGE_TASK)
def publish(ctx: RunContext) -> StageResult:
    return run_stage("publish", stages.publish, ctx, own_process=True)


@task(name="analyze", **STAGE_TASK)
def analyze(ctx: RunContext) -> StageResult:
    return run_stage("analyze", stages.analyze, ctx, own_process=True)


@task(name="export-tableau", **STAGE_TASK)
def export_tableau(ctx: RunContext) -> StageResult:
    return run_stage("export-tableau", stages.export_tableau, ctx, own_process=True)


TASKS = {
    "ingest": ingest,
    "validate-raw": validate_raw,
    "transform": transform,
    "validate-marts": validate_marts,
    "publish": publish,
    "analyze": analyze,
    "export-tableau": export_tableau,
}
IN_THREADS = {"ingest", "transform"}


def final_outcome(future: PrefectFuture[StageResult]) -> object:
    """What a finished task left: its StageResult, the exception it failed with, or None when it
    never ran (NotReady: a stage it needs did not complete)."""
    state = future.state
    if state.is_completed():
        return future.result()
    if state.is_failed() or state.is_crashed():
        return state.result(raise_on_failure=False)
    return None


@flow(
    name="streamlytics-pipeline",
    log_prints=True,
    task_runner=ThreadPoolTaskRunner(max_workers=len(IN_THREADS)),
)
def pipeline_flow(data_dir: str | None = None):
    """ingest → (validate raw ‖ dbt build) → validate marts → (publish ‖ analyze ‖ Tableau).

    Everything that publishes waits for both gates. Returns the run summary (also written to
    run_summary.json in the reports folder); the flow run ends Failed when a stage did not
    complete, with the summary as its result.
    """
    logger = get_run_logger()
    started = datetime.now(UTC)
    ctx = stages.make_context(Path(data_dir) if data_dir else None)
    # dbt parses the project while the files load (it needs no data); the build then skips it.
    from streamlytics.transform import parse_ahead

    parse_ahead(cfg=ctx.cfg)
    check_pipeline(PIPELINE)
    futures: dict[str, PrefectFuture[StageResult]] = {}
    with ProcessPoolTaskRunner(max_workers=CPU_WORKERS) as processes:
        for stage in PIPELINE:
            upstream = [futures[need] for need in stage.needs]
            if stage.name in IN_THREADS:
                futures[stage.name] = TASKS[stage.name].submit(ctx, wait_for=upstream)
            else:
                futures[stage.name] = processes.submit(
                    TASKS[stage.name], {"ctx": ctx}, wait_for=upstream
                )
        wait(list(futures.values()))
    statuses: dict[str, str] = {}
    results = []
    for stage in PIPELINE:
        result = outcome_result(stage, final_outcome(futures[stage.name]), statuses)
        statuses[stage.name] = result.status
        results.append(result)
        if result.status == "skipped":
            logger.warning("stage %s %s", result.name, result.message)
    summary = write_summary(ctx.reports_dir / "run_summary.json", results, started, ctx.data_dir)
    not_completed = [r.name for r in results if r.status != "completed"]
    if not_completed:
        return Failed(message=f"stages not completed: {', '.join(not_completed)}", data=summary)
    return summary
