"""The dbt project built on Apache Spark equals the one built on PostgreSQL, row for row (issue 17).

The same small generated data set (dirty, so the quarantine and its messages are exercised) is
ingested into a scratch PostgreSQL database and landed on the suite's Spark Connect server (the
real landing, streamlytics/ingest/spark_landing.py, in databases of the test's own: landing and
dbt both take a prefix). Then one `dbt build` per engine through streamlytics.transform.run_build,
as the pipeline runs it. Every core table, every mart (rpt_, sync_, ana_), the staging
quarantine and the seed are compared row for row (tests/spark_equality.py): exact for integers
and text, to the contract's scale for decimals.

The Connect server is shared with the other Spark tests (one JVM for the session); a dbt client
of it costs no JVM start of its own (benchmarks/bench_spark_equality.py measures both ways).
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _db_state import scratch_database
from spark_equality import compare, compared_relations

from streamlytics.config import settings
from streamlytics.generate import generate_dataset
from streamlytics.ingest import ingest_directory, spark_landing
from streamlytics.transform import TransformResult, run_build

SCALE, SEED, DIRTY = 0.02, 42, 0.02
# Two builds and a landing in the first test's setup: 3-4 minutes on a quiet machine, and up to
# 15 on this shared 2-core one under a load average of 16 (measured).
pytestmark = pytest.mark.timeout(1800)
DATABASES = ("raw", "audit", "staging", "core", "marts", "analysis_marts")


@dataclasses.dataclass
class Build:
    result: TransformResult
    schema_prefix: str
    remote: str = ""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spark_equality") / "data"
    generate_dataset(path, scale=SCALE, seed=SEED, dirty_fraction=DIRTY)
    return path


@pytest.fixture(scope="module")
def postgres(
    service_urls: dict[str, str], data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Build]]:
    with scratch_database(service_urls["postgres"], prefix="test_spark_eq") as url:
        ingest_directory(data_dir, url)
        work = tmp_path_factory.mktemp("dbt_postgres")
        cfg = dataclasses.replace(settings(), database_url=url, warehouse="postgres")
        with pytest.MonkeyPatch.context() as env:
            env.setenv("STREAMLYTICS_WAREHOUSE", "postgres")
            env.delenv("DBT_TARGET", raising=False)
            result = run_build(target_path=work / "target", log_path=work / "logs", cfg=cfg)
        yield url, Build(result, "")


def _build_on_spark(
    remote: str, prefix: str, work: Path, select: tuple[str, ...] = ()
) -> TransformResult:
    """`dbt build` (of ``select``) on the Connect server ``remote``, as the pipeline runs it."""
    cfg = dataclasses.replace(settings(), warehouse="spark", spark_remote=remote)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("STREAMLYTICS_WAREHOUSE", "spark")
        env.setenv("SPARK_REMOTE", remote)
        env.setenv("DBT_SCHEMA_PREFIX", prefix)
        env.delenv("DBT_TARGET", raising=False)
        env.delenv("SPARK_THRIFT_HOST", raising=False)
        return run_build(
            select=select, target_path=work / "target", log_path=work / "logs", cfg=cfg
        )


@pytest.fixture(scope="module")
def spark(
    spark_remote: str,
    spark_session: Any,
    data_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Build]:
    """The same files landed and built on Spark, in databases named <prefix>raw, <prefix>core..."""
    prefix = f"eq{uuid.uuid4().hex[:8]}_"
    work = tmp_path_factory.mktemp("dbt_spark")
    try:
        spark_landing.ingest_directory(
            data_dir, spark_remote, work / "ingest.lock", database_prefix=prefix
        )
        yield Build(_build_on_spark(spark_remote, prefix, work), prefix, spark_remote)
    finally:
        for database in DATABASES:
            spark_session.sql(f"drop database if exists {prefix}{database} cascade")


def test_every_node_builds_and_passes_on_spark(postgres: tuple[str, Build], spark: Build) -> None:
    """One `dbt build` on Spark runs every node PostgreSQL runs - models, seeds, data and unit
    tests - and none fails, warns or is skipped. Spark runs more data tests: the key tests that
    stand for PostgreSQL's enforced constraints (`enabled: target.type != 'postgres'`)."""
    _, pg = postgres
    assert pg.result.ok, pg.result.failures
    assert spark.result.ok, [(f.name, f.message) for f in spark.result.failures]
    assert not spark.result.warnings, [(w.name, w.message) for w in spark.result.warnings]
    assert not spark.result.counts.get("model", {}).get("skipped")

    def executed(build: Build) -> set[str]:
        results = json.loads(Path(build.result.run_results_path).read_text())["results"]
        return {r["unique_id"] for r in results if r["status"] not in ("skipped", "no-op")}

    pg_nodes, spark_nodes = executed(pg), executed(spark)
    assert pg_nodes <= spark_nodes, sorted(pg_nodes - spark_nodes)
    assert all(node.startswith("test.") for node in spark_nodes - pg_nodes)
    assert any("viewing_sessions_session_id" in node for node in spark_nodes - pg_nodes)


def test_every_core_table_and_mart_equals_postgres_row_for_row(
    postgres: tuple[str, Build], spark: Build, spark_session: Any
) -> None:
    """Every core table, mart (rpt_, sync_, ana_), the staging quarantine and the seed built on
    Spark holds PostgreSQL's rows (see tests/spark_equality.py for how values compare)."""
    url, _ = postgres
    manifest = Path(spark.result.run_results_path).parent / "manifest.json"
    pairs = compared_relations(manifest, spark.schema_prefix)
    # Every layer the issue names is covered, not an empty or partial list.
    compared = {pg for pg, _ in pairs}
    assert {
        "core.viewing_sessions",
        "marts.rpt_revenue_by_genre",
        "marts.sync_mongo_users",
        "analysis_marts.ana_user_metrics",
        "audit.staging_quarantine",
    } <= compared
    assert len(pairs) >= 40, pairs
    rows, differences = compare(url, spark_session, pairs)
    assert not differences, "\n".join(differences)
    assert rows > 10_000


INCREMENTAL_MODELS = (
    "int_viewing_sessions_validated",
    "viewing_sessions",
    "int_user_months_active",
    "int_revenue_allocated_to_genres",
    "rpt_executive_summary",
)


def test_a_second_spark_build_of_the_same_files_changes_no_row(
    postgres: tuple[str, Build], spark: Build, spark_session: Any, tmp_path: Path
) -> None:
    """The incremental models re-run on Spark (insert_overwrite of their partitions; the
    sessions' batch partitions, docs/dbt.md) with no new data: same rows, still PostgreSQL's."""
    url, _ = postgres
    again = _build_on_spark(spark.remote, spark.schema_prefix, tmp_path, INCREMENTAL_MODELS)
    assert again.ok, [(f.name, f.message) for f in again.failures]
    # The incremental models' own tables, wherever they live. int_revenue_allocated_to_genres
    # is left out: its exact shares have no contract scale (PostgreSQL's numeric and Spark's
    # decimal differ at the 10th decimal); the marts it feeds compare at their contracts'.
    pairs = [
        (f"{schema}.{name}", f"{spark.schema_prefix}{schema}.{name}")
        for schema, name in (
            ("core", "viewing_sessions"),
            ("staging", "int_user_months_active"),
            ("marts", "rpt_executive_summary"),
        )
    ]
    _, differences = compare(url, spark_session, pairs)
    assert not differences, "\n".join(differences)


# --- stats: incremental analysis aggregates ---
# The statistics' per-day frequency table is incremental (dbt_project/models/marts/analysis).


def test_the_incremental_analysis_aggregates_rerun_on_spark_equal_postgres(
    postgres: tuple[str, Build], spark: Build, spark_session: Any, tmp_path: Path
) -> None:
    """ana_session_minutes_by_day re-run on Spark as an incremental build (insert_overwrite of
    its day partitions) keeps PostgreSQL's rows: every day, every count and completion sum."""
    url, _ = postgres
    again = _build_on_spark(
        spark.remote, spark.schema_prefix, tmp_path, ("ana_session_minutes_by_day",)
    )
    assert again.ok, [(f.name, f.message) for f in again.failures]
    relation = "analysis_marts.ana_session_minutes_by_day"
    rows, differences = compare(
        url, spark_session, [(relation, f"{spark.schema_prefix}{relation}")]
    )
    assert rows > 0 and not differences, "\n".join(differences)
