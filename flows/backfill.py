"""Backfill: ingest one data folder, then rebuild the dbt models on it (deployment `backfill`).

Thin by design: the ingest flow (flows/ingest.py) and the dbt build (streamlytics/transform.py)
do the work and are tested on their own. Unlike the daily pipeline it skips validation,
publishing and reports: it is for loading a new or corrected export on demand.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE


@task(name="dbt-build", cache_policy=NO_CACHE)
def dbt_build_task() -> dict[str, Any]:
    """``dbt build`` of the whole project; fails the run when a model or test fails."""
    from streamlytics.config import settings
    from streamlytics.transform import plain, run_build

    logger = get_run_logger()
    # A private target folder: a backfill may run while someone else builds in dbt_project/target.
    work = settings().state_dir / "dbt" / "backfill"
    result = run_build(
        target_path=work / "target",
        log_path=work / "logs",
        on_output=lambda line: logger.info("%s", plain(line)),
    )
    if not result.ok:
        failed = "; ".join(f.describe() for f in result.failures[:10]) or "\n".join(
            result.output_tail
        )
        raise RuntimeError(f"dbt build failed (exit {result.return_code}): {failed}")
    return result.summary()


@flow(name="ingest-and-build", log_prints=True)
def ingest_and_build_flow(data_dir: str) -> dict[str, Any]:
    """Load users.csv, content.json and viewing_sessions*.csv of ``data_dir``, then dbt build.

    Returns what each step reported: the ingest report (rows read / loaded / quarantined per
    file) and the dbt summary (models built, tests passed).
    """
    from flows.ingest import ingest_flow

    ingest = ingest_flow(data_dir)
    build = dbt_build_task()
    return {"data_dir": data_dir, "ingest": ingest, "dbt": build}
