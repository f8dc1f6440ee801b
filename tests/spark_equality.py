"""Row-for-row comparison of the dbt project built on PostgreSQL and on Spark (issue 17).

Used by tests/test_spark_equality.py and benchmarks/bench_spark_equality.py. Integers, text and
dates compare exactly, decimals at the scale of the Spark column's type (the contract's), doubles
to 1e-9 relative (sums of doubles in another order differ in the last bits). Load times are what
differs by design between two ingests: timestamp columns are left out, and a load time written
into a message is compared as a placeholder in PostgreSQL's format (offset included, so a
timestamp written Spark's way still differs).
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg2

COMPARED_SCHEMAS = ("core", "marts", "analysis_marts", "audit")
"""Every core table and mart (rpt_, sync_, ana_), the staging quarantine, and the seed."""

LOAD_TIME_TEXT = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?\+00")


def compared_relations(manifest_path: Path, schema_prefix: str = "") -> list[tuple[str, str]]:
    """(PostgreSQL relation, Spark relation) of every table the comparison covers, from the
    Spark build's manifest (whose schemas carry ``schema_prefix``)."""
    nodes = json.loads(Path(manifest_path).read_text())["nodes"]
    pairs = []
    for node in nodes.values():
        if node["resource_type"] not in ("model", "seed"):
            continue
        if node["resource_type"] == "model" and node["config"]["materialized"] == "view":
            continue
        schema = node["schema"].removeprefix(schema_prefix)
        if schema in COMPARED_SCHEMAS:
            pairs.append((f"{schema}.{node['alias']}", f"{node['schema']}.{node['alias']}"))
    return sorted(pairs)


def _decimal_scales(spark: Any, relation: str) -> dict[str, int]:
    from pyspark.sql.types import DecimalType

    return {
        field.name: field.dataType.scale
        for field in spark.table(relation).schema.fields
        if isinstance(field.dataType, DecimalType)
    }


def _normalise(value: Any, scale: int | None) -> Any:
    if isinstance(value, Decimal) and scale is not None:
        return value.quantize(Decimal(1).scaleb(-scale))
    if isinstance(value, str):
        return LOAD_TIME_TEXT.sub("<load time>", value)
    return value


def _normalised(rows: list[tuple[Any, ...]], scales: list[int | None]) -> list[tuple[Any, ...]]:
    return sorted(
        (tuple(_normalise(v, s) for v, s in zip(row, scales, strict=True)) for row in rows),
        key=_sort_key,
    )


def _sort_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    # Doubles sort by 9 significant digits, so rows that agree to 1e-9 line up.
    return tuple(
        (value is None, float(f"{value:.9g}") if isinstance(value, float) else str(value))
        for value in row
    )


def _same(a: Any, b: Any, tolerance: float = 1e-9) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], tolerance) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y, tolerance) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return False
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)
    return a == b


def compare(postgres_url: str, spark: Any, pairs: list[tuple[str, str]]) -> tuple[int, list[str]]:
    """Compare each pair; return (rows compared, one line per relation that differs)."""
    differences: list[str] = []
    rows_compared = 0
    with psycopg2.connect(postgres_url) as conn, conn.cursor() as cur:
        for pg_relation, spark_relation in pairs:
            schema, table = pg_relation.split(".")
            cur.execute(
                "select column_name from information_schema.columns "
                "where table_schema = %s and table_name = %s "
                "and data_type not like 'timestamp%%' order by ordinal_position",
                (schema, table),
            )
            columns = [name for (name,) in cur.fetchall()]
            select = ", ".join(columns)
            cur.execute(f"select {select} from {pg_relation}")
            pg_rows = cur.fetchall()
            # Another session (dbt's) may have rewritten the table since this one last read it.
            spark.sql(f"refresh table {spark_relation}")
            spark_rows = [
                tuple(row) for row in spark.sql(f"select {select} from {spark_relation}").collect()
            ]
            if len(pg_rows) != len(spark_rows):
                differences.append(
                    f"{pg_relation}: {len(pg_rows)} rows on PostgreSQL, {len(spark_rows)} on Spark"
                )
                continue
            scales = _decimal_scales(spark, spark_relation)
            column_scales = [scales.get(name) for name in columns]

            rows_compared += len(pg_rows)
            difference = first_difference(columns, pg_rows, spark_rows, column_scales)
            if difference:
                differences.append(f"{pg_relation}: {difference}")
    return rows_compared, differences


def first_difference(
    columns: list[str],
    pg_rows: list[tuple[Any, ...]],
    spark_rows: list[tuple[Any, ...]],
    scales: list[int | None] | None = None,
    tolerance: float = 1e-9,
) -> str | None:
    """The first row where two sets of rows (in any order) differ, as the comparison above
    sees it (decimals at ``scales``, doubles to ``tolerance``, relative or absolute, also inside
    dicts and lists), or None when they are equal."""
    if len(pg_rows) != len(spark_rows):
        return f"{len(pg_rows)} rows on PostgreSQL, {len(spark_rows)} on Spark"
    scales = scales or [None] * len(columns)
    pairs_of_rows = zip(_normalised(pg_rows, scales), _normalised(spark_rows, scales), strict=True)
    for pg_row, spark_row in pairs_of_rows:
        unequal = [
            f"{name}: {a!r} vs {b!r}"
            for name, a, b in zip(columns, pg_row, spark_row, strict=True)
            if not _same(a, b, tolerance)
        ]
        if unequal:
            return f"first differing row: {'; '.join(unequal)}"
    return None
