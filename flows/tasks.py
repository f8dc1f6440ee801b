"""One Prefect task per pipeline stage, each calling that stage's plain function.

Kept apart from the flow (flows/pipeline.py) so that a task's module is always ``flows.tasks``,
however the flow's file was loaded (a deployment loads it by path): the process pool's workers
import the tasks by that name. Retries: only when the stage could not reach a server.
"""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from streamlytics import stages
from streamlytics.pipeline import (
    RunContext,
    StageFailed,
    StageResult,
    is_connection_error,
    run_stage,
)


def retry_on_connection_error(task_: Any, task_run: Any, state: Any) -> bool:
    """Prefect retry condition: retry a stage only when a server could not be reached."""
    if not state.is_failed():
        return False
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


@task(name="dashboards", **STAGE_TASK)
def dashboards(ctx: RunContext) -> StageResult:
    return run_stage("dashboards", stages.dashboards, ctx, own_process=True)


TASKS = {
    "ingest": ingest,
    "validate-raw": validate_raw,
    "transform": transform,
    "validate-marts": validate_marts,
    "publish": publish,
    "analyze": analyze,
    "export-tableau": export_tableau,
    "dashboards": dashboards,
}
IN_THREADS = {"ingest", "transform"}
"""ingest (COPY: PostgreSQL does the work) and dbt (a subprocess) wait more than they compute."""

# The CPU-bound stages run in two lanes, one process each (two cores). The checks lane holds
# the critical path after dbt (validate-marts, then analyze): its worker starts when the files
# are loaded and imports the libraries of its stages before running the first, while dbt
# builds, so none of those imports is paid after dbt. The other lane's stages are shorter.
LANES: dict[str, tuple[str, ...]] = {
    "checks": ("validate-raw", "validate-marts", "analyze"),
    "publishing": ("publish", "export-tableau", "dashboards"),
}
# "module:function" also calls the function: the statistics' model worker starts here too.
PRELOAD: dict[str, tuple[str, ...]] = {
    "checks": (
        "streamlytics.validation",
        "python_models.analyze:start_model_worker",
        "python_models.report",
    ),
    "publishing": (),
}


def preload(modules: tuple[str, ...]) -> None:
    """A process pool worker's initializer: import its stages' libraries once, up front (and
    call the functions named ``module:function``)."""
    import importlib

    for entry in modules:
        module, _, function = entry.partition(":")
        imported = importlib.import_module(module)
        if function:
            getattr(imported, function)()
