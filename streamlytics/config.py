"""Every setting the project reads from the environment, read in one place.

Nothing here has side effects at import time: call :func:`settings` to get a snapshot.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

WAREHOUSES = ("postgres", "spark")
"""The engines the pipeline runs on: STREAMLYTICS_WAREHOUSE (or ``--warehouse``) picks one."""


class ConfigError(ValueError):
    """A setting whose value the project cannot use; the message names the variable."""


def warehouse_engine(value: str | None) -> str:
    """The engine ``value`` names (case and blanks ignored); ``postgres`` when unset."""
    engine = (value or "postgres").strip().lower()
    if engine not in WAREHOUSES:
        raise ConfigError(
            f"STREAMLYTICS_WAREHOUSE={value!r} is not an engine the project runs on: "
            f"use one of {', '.join(WAREHOUSES)}"
        )
    return engine


@dataclass(frozen=True)
class Settings:
    project_root: Path
    state_dir: Path
    """Generated state owned by the project: database files, pid files, logs (git-ignored)."""
    data_dir: Path
    """Default raw data folder (generated on first use)."""
    reports_dir: Path
    database_url: str | None
    """Set by the user to use their own PostgreSQL; None means the project's embedded server."""
    mongodb_uri: str | None
    """Set by the user to use their own MongoDB; None means the project's embedded server."""
    mongodb_db: str
    prefect_api_url: str | None
    """Set by the user to report to their own Prefect server; None means the project's own."""
    warehouse: str
    """The engine the warehouse stages run on: ``postgres`` (default) or ``spark``."""
    spark_remote: str | None
    """A Spark Connect endpoint (``sc://host:15002``) of the user's; None means the project's own
    local Connect server when the engine is Spark (unless a Thrift host is set)."""
    spark_thrift_host: str | None
    """A Spark Thrift server (HiveServer2 protocol) of the user's, reached by dbt-spark's thrift
    method; ``spark_thrift_port`` is its port."""
    spark_thrift_port: int
    schema_prefix: str
    """DBT_SCHEMA_PREFIX: prepended to the name of every schema (database, on Spark) that dbt
    builds and of the Spark landing's ``raw`` and ``audit``; empty unless set (the tests use it to
    keep their databases apart on one server)."""
    dbt_project_dir: Path
    dbt_profiles_dir: Path
    gx_project_dir: Path
    """The Great Expectations project (its gx/ context, where validation results and Data Docs
    are written, and the vendored Data Docs assets); the test suite points it at a copy."""
    dbt_threads: int
    """dbt's threads: DBT_THREADS, else one per core (see :func:`machine_dbt_threads`)."""
    dbt_work_mem_mb: int
    """work_mem of dbt's own connections: STREAMLYTICS_DBT_WORK_MEM_MB, else from the machine's
    memory and dbt's threads (see :func:`machine_work_mem_mb`)."""


def _total_memory_mb() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)
    except (ValueError, OSError, AttributeError):  # not a POSIX system: assume a small machine
        return 4096


def machine_dbt_threads() -> int:
    """One dbt thread per core: the heavy nodes are CPU-bound PostgreSQL statements, so more
    threads than cores only makes the session-level sorts and hash aggregates compete for the
    same cores and memory (four of them on two cores spilled at 10 M sessions)."""
    return max(1, os.cpu_count() or 1)


def machine_work_mem_mb(threads: int) -> int:
    """work_mem for dbt's connections: an eighth of the machine's memory shared by its threads.

    Each statement may hold a few sort/hash nodes at once (PostgreSQL gives a hash twice
    work_mem by default), so an eighth per build keeps a build well inside memory even with a
    handful of nodes per thread, while the session log's aggregates fit in memory. Bounded to
    64 MB (the server's default) .. 2 GB.
    """
    return max(64, min(2048, _total_memory_mb() // 8 // max(1, threads)))


def settings() -> Settings:
    root = Path(os.environ.get("STREAMLYTICS_HOME", PROJECT_ROOT)).resolve()
    state = Path(os.environ.get("STREAMLYTICS_STATE_DIR", root / ".state")).resolve()
    threads = int(os.environ.get("DBT_THREADS") or machine_dbt_threads())
    work_mem = os.environ.get("STREAMLYTICS_DBT_WORK_MEM_MB")
    return Settings(
        project_root=root,
        state_dir=state,
        data_dir=Path(os.environ.get("STREAMLYTICS_DATA_DIR", root / "data" / "default")).resolve(),
        reports_dir=Path(os.environ.get("STREAMLYTICS_REPORTS_DIR", root / "reports")).resolve(),
        database_url=os.environ.get("DATABASE_URL") or None,
        mongodb_uri=os.environ.get("MONGODB_URI") or None,
        mongodb_db=os.environ.get("MONGODB_DB", "streamlytics"),
        prefect_api_url=os.environ.get("PREFECT_API_URL") or None,
        warehouse=warehouse_engine(os.environ.get("STREAMLYTICS_WAREHOUSE")),
        spark_remote=os.environ.get("SPARK_REMOTE") or None,
        spark_thrift_host=os.environ.get("SPARK_THRIFT_HOST") or None,
        spark_thrift_port=int(os.environ.get("SPARK_THRIFT_PORT") or 10000),
        schema_prefix=os.environ.get("DBT_SCHEMA_PREFIX", ""),
        dbt_project_dir=root / "dbt_project",
        dbt_profiles_dir=root,
        gx_project_dir=Path(os.environ.get("STREAMLYTICS_GX_DIR", root / "expectations")).resolve(),
        dbt_threads=threads,
        dbt_work_mem_mb=int(work_mem) if work_mem else machine_work_mem_mb(threads),
    )
