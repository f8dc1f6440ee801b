"""The full pipeline as one Prefect flow; each stage runs as a subflow.

Thin by design: what each stage does and when a failure gates the rest lives in
streamlytics/stages.py and streamlytics/pipeline.py, which are tested without Prefect.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from streamlytics import stage_host
from streamlytics.pipeline import (
    RunContext,
    Stage,
    StageResult,
    execute_stage,
    run_dag,
    write_summary,
)

# Subflows start one at a time. Stages that become ready together would otherwise create their
# flow runs at the same moment, and Prefect's SQLite server answers concurrent writes with 503
# "database is locked": the client then waits ~2 s before retrying, per collision.
_starting = threading.Lock()


def run_stage_as_subflow(
    stage: Stage, ctx: RunContext, host: stage_host.StageHost | None = None
) -> StageResult:
    """Run one stage as a Prefect subflow named after it (no parameters to serialise).

    An isolated stage runs in a process of ``host``; what it printed becomes the subflow's log.
    """
    started = False

    def body() -> StageResult:
        nonlocal started
        started = True
        _starting.release()  # the flow run exists and is Running: the next stage may start
        logger = get_run_logger()
        if stage.isolated and host is not None:
            result = host.run(stage, ctx, on_output=lambda line: logger.info("%s", line))
        else:
            result = execute_stage(stage, ctx)
        if result.status == "failed":
            logger.error(
                "stage %s failed after %.1fs: %s", stage.name, result.seconds, result.message
            )
        else:
            logger.info("stage %s %s in %.1fs", stage.name, result.status, result.seconds)
        return result

    _starting.acquire()
    try:
        return flow(name=f"stage-{stage.name}", description=stage.description, log_prints=True)(
            body
        )()
    finally:
        if not started:  # the subflow failed before its body ran
            _starting.release()


@flow(name="streamlytics-pipeline", log_prints=True)
def pipeline_flow(data_dir: str | None = None) -> dict[str, Any]:
    """ingest → (validate raw ‖ dbt build) → validate marts → (publish ‖ analyze ‖ Tableau).

    Independent stages run side by side; everything that publishes waits for both gates. The
    CPU-bound stages run in processes forked from a stage host: the one ``streamlytics run``
    started before Prefect (so its imports overlap Prefect's start-up), else one of our own.
    Returns the run summary (also written to run_summary.json in the reports folder).
    """
    from streamlytics.stages import make_context, pipeline_stages

    logger = get_run_logger()
    started = datetime.now(UTC)
    ctx = make_context(Path(data_dir) if data_dir else None)
    # dbt parses the project while the files load (it needs no data); the build then skips it.
    from streamlytics.transform import parse_ahead

    parse_ahead(cfg=ctx.cfg)

    def log_skip(result: StageResult) -> None:
        logger.warning("stage %s %s", result.name, result.message)

    host = stage_host.running()
    own_host = stage_host.StageHost().start() if host is None else None
    if own_host is not None:
        own_host.preload()
    try:
        results = run_dag(
            pipeline_stages(),
            lambda stage: run_stage_as_subflow(stage, ctx, host or own_host),
            on_skip=log_skip,
        )
    finally:
        if own_host is not None:
            own_host.stop()
    return write_summary(ctx.reports_dir / "run_summary.json", results, started, ctx.data_dir)
