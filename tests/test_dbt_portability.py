"""The dbt project's SQL avoids the constructs that silently differ between PostgreSQL and Spark.

SPARK_NOTES.md lists what the same rows give on each engine; the project handles each through a
macro (macros/portability/) or an explicit clause. The singular test
tests/portability/assert_engine_differences_are_handled.sql checks the macros' answers on both
engines; these checks make sure the models keep using them, so a model edited later does not
bring a difference back where the generated data happens not to show it. Pure text checks over
the project's files: no database.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parent.parent / "dbt_project"


def _sql_files(folders: tuple[str, ...]) -> list[Path]:
    return sorted(
        path
        for folder in folders
        for path in (PROJECT / folder).rglob("*.sql")
        if "portability" not in path.parts  # the macros that handle the differences themselves
    )


def _findings(pattern: str, folders: tuple[str, ...] = ("models", "tests", "macros")) -> list[str]:
    regex = re.compile(pattern, re.IGNORECASE)
    found = []
    for path in _sql_files(folders):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if regex.search(line):
                found.append(f"{path.relative_to(PROJECT)}:{number}: {line.strip()}")
    return found


def test_every_descending_order_says_where_nulls_go() -> None:
    """`order by x desc` puts NULLs first on PostgreSQL and last on Spark."""
    assert not _findings(r"\bdesc\b(?!\s+nulls\s+(first|last))")


def test_ordered_lists_use_ordered_listagg() -> None:
    """Spark's listagg loses its `order by`: ordered lists go through ordered_listagg()."""
    assert not _findings(r"dbt\.listagg\(")


def test_decimals_and_timestamps_become_text_through_to_text() -> None:
    """Spark writes decimals with their full scale and timestamps without '+00': the value
    columns and messages built from landing decimals or load times use to_text()."""
    assert not _findings(
        r"cast\((loaded_at|detected_at|[a-z_]*(hours|percentage|rating))\s+as\s+\S*type_string"
    )


def test_backslashes_in_string_literals_go_through_a_macro() -> None:
    """A backslash in a string literal is an escape character on Spark, a plain one on
    PostgreSQL: escape_double_quotes() writes each engine's literal. (Macros are left out: a
    backslash there is Jinja's own escape; the singular test checks the macros' SQL.)"""
    assert not _findings(r"'[^']*\\[^']*'", folders=("models", "tests"))


def test_contract_types_are_written_for_both_engines() -> None:
    """Spark has no `text`, `timestamptz` or `double precision`, and its bare `numeric` is
    decimal(10, 0): such contract types are target-conditional literals."""
    postgres_only = {"text", "timestamptz", "double precision", "numeric"}
    found = []
    for path in sorted((PROJECT / "models").rglob("*.yml")):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            for column in model.get("columns", []):
                if str(column.get("data_type", "")).strip().lower() in postgres_only:
                    found.append(f"{model['name']}.{column['name']}: {column['data_type']}")
    assert not found
