"""The full pipeline as one Prefect flow: one task per stage, ordered by Prefect.

Thin by design: what each stage does lives in streamlytics/stages.py (and flows/ingest.py),
which stages need which and what run_summary.json says in streamlytics/pipeline.py; both are
tested without Prefect. Each stage is a task (flows/tasks.py); a task starts when the stages
it needs have completed (``wait_for``), and Prefect leaves it NotReady when one of them did not:
that is the gate. Stages that do not need each other run side by side: the CPU-bound Python
stages (Great Expectations, publish, statistics, Tableau) on Prefect's ProcessPoolTaskRunner,
in two lanes of one process each (flows/tasks.py: LANES), so they do not take turns for one
GIL; ingest (COPY into PostgreSQL) and dbt (a subprocess) on the flow's ThreadPoolTaskRunner.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture, wait
from prefect.states import Failed
from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

from flows.tasks import IN_THREADS, LANES, PRELOAD, TASKS, preload
from streamlytics import stages
from streamlytics.pipeline import (
    PIPELINE,
    StageResult,
    check_pipeline,
    outcome_result,
    write_summary,
)


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
    with ExitStack() as lanes:
        runners = {
            lane: lanes.enter_context(
                ProcessPoolTaskRunner(max_workers=1, initializer=preload, initargs=(PRELOAD[lane],))
            )
            for lane in LANES
        }
        lane_of = {stage: runners[lane] for lane, members in LANES.items() for stage in members}
        for stage in PIPELINE:
            upstream = [futures[need] for need in stage.needs]
            if stage.name in IN_THREADS:
                futures[stage.name] = TASKS[stage.name].submit(ctx, wait_for=upstream)
            else:
                futures[stage.name] = lane_of[stage.name].submit(
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
