"""Prefect flow for the ingest stage: preflight, schema, then one task per file.

Thin by design: every task calls a plain function of streamlytics.ingest (tested without
Prefect). Only connection failures are retried; a data problem fails at once, because running
the same bytes again cannot fix it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from streamlytics.ingest import IngestReport, SourceFile, db, load_source, preflight, spark_landing
from streamlytics.ingest.pipeline import FileProgress
from streamlytics.ingest.progress import current_progress
from streamlytics.ingest.report import FileReport


def retry_on_connection_error(task_: Any, task_run: Any, state: Any) -> bool:
    """Prefect retry condition: retry only when the database connection failed."""
    try:
        state.result()
    except db.CONNECTION_ERRORS:
        return True
    except Exception:  # noqa: BLE001 - any other failure is final: no retry
        return False
    return False


@task(name="ingest-preflight", cache_policy=NO_CACHE)
def preflight_task(data_dir: str) -> list[SourceFile]:
    logger = get_run_logger()
    sources = preflight(Path(data_dir))
    for source in sources:
        logger.info(
            "%s: %s records, %s bytes, batch %s",
            source.name,
            f"{source.records:,}",
            f"{source.size:,}",
            source.batch_id[:12],
        )
    return sources


@task(
    name="ingest-schema",
    cache_policy=NO_CACHE,
    retries=3,
    retry_delay_seconds=2,
    retry_condition_fn=retry_on_connection_error,
)
def schema_task(database_url: str) -> None:
    conn = db.connect(database_url)
    try:
        db.apply_schema(conn)
    finally:
        conn.close()


@task(
    name="ingest-file",
    task_run_name="ingest-{source.path.name}",
    cache_policy=NO_CACHE,
    retries=3,
    retry_delay_seconds=2,
    retry_condition_fn=retry_on_connection_error,
)
def load_file_task(
    source: SourceFile, database_url: str, progress: FileProgress | None = None
) -> FileReport:
    conn = db.connect(database_url)
    try:
        report = load_source(conn, source, progress)
    finally:
        conn.close()
    log_report(report)
    return report


def log_report(report: FileReport) -> None:
    logger = get_run_logger()
    if report.status == "skipped":
        logger.info(
            "%s: batch %s already loaded (load %d); nothing to do",
            report.file,
            report.batch_id[:12],
            report.load_id,
        )
    else:
        rate = report.lines_read / report.seconds if report.seconds else 0.0
        logger.info(
            "%s: %s read = %s loaded + %s quarantined in %.2f s (%s records/s)%s",
            report.file,
            f"{report.lines_read:,}",
            f"{report.rows_loaded:,}",
            f"{report.rows_quarantined:,}",
            report.seconds,
            f"{rate:,.0f}",
            f"; superseded {', '.join(b[:12] for b in report.superseded)}"
            if report.superseded
            else "",
        )
        if report.rows_quarantined:
            logger.warning(
                "%s: %s record(s) quarantined, see audit.quarantine where batch_id = '%s'",
                report.file,
                f"{report.rows_quarantined:,}",
                report.batch_id,
            )


@task(name="ingest-schema-spark", cache_policy=NO_CACHE)
def spark_schema_task(remote: str, lock_file: Path, database_prefix: str = "") -> None:
    spark_landing.open_landing(remote, lock_file, database_prefix).prepare()


@task(name="ingest-file-spark", task_run_name="ingest-{source.path.name}", cache_policy=NO_CACHE)
def spark_load_file_task(
    source: SourceFile,
    remote: str,
    lock_file: Path,
    progress: FileProgress | None = None,
    database_prefix: str = "",
) -> FileReport:
    landing = spark_landing.open_landing(remote, lock_file, database_prefix)
    report = landing.load_source(source, progress)
    log_report(report)
    return report


@flow(name="ingest", log_prints=True)
def ingest_flow(data_dir: str) -> dict[str, Any]:
    """Load users.csv, content.json and viewing_sessions*.csv of ``data_dir`` into the warehouse
    (PostgreSQL, or Spark with STREAMLYTICS_WAREHOUSE=spark).

    Returns the IngestReport as a dict. Fails (writing nothing) if a file fails preflight.
    """
    from streamlytics import services
    from streamlytics.config import settings

    cfg = settings()
    sources = preflight_task(data_dir)
    progress = current_progress()
    if cfg.warehouse == "spark":
        remote, lock_file = services.spark_remote(cfg), spark_landing.lock_file(cfg)
        # The databases dbt and the gates read: <DBT_SCHEMA_PREFIX>raw, <...>audit.
        prefix = cfg.schema_prefix
        spark_schema_task(remote, lock_file, prefix)
        files = [spark_load_file_task(s, remote, lock_file, progress, prefix) for s in sources]
    else:
        database_url = services.database_url(cfg)
        schema_task(database_url)
        files = [load_file_task(source, database_url, progress) for source in sources]
    return IngestReport(str(Path(data_dir).resolve()), files).to_dict()
