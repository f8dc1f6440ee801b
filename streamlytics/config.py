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
    dbt_project_dir: Path
    dbt_profiles_dir: Path
    gx_project_dir: Path
    """The Great Expectations project (its gx/ context, where validation results and Data Docs
    are written, and the vendored Data Docs assets); the test suite points it at a copy."""


def settings() -> Settings:
    root = Path(os.environ.get("STREAMLYTICS_HOME", PROJECT_ROOT)).resolve()
    state = Path(os.environ.get("STREAMLYTICS_STATE_DIR", root / ".state")).resolve()
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
        dbt_project_dir=root / "dbt_project",
        dbt_profiles_dir=root,
        gx_project_dir=Path(os.environ.get("STREAMLYTICS_GX_DIR", root / "expectations")).resolve(),
    )
