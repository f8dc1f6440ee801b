"""How a suite is declared: the table it reads, its expectations, and the helpers that name them.

Every expectation carries ``meta.check``, a short stable name (``session_id_pattern``) used in
terminal output, saved reports and gate messages, and a GX ``severity``: ``critical`` fails the
gate (reported as *error*), ``warning`` is reported but never fails it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import great_expectations.expectations as gxe
from great_expectations.expectations.expectation import Expectation

ERROR = "critical"
WARNING = "warning"

# A parameter filled in at run time (see run.py), so the release-year bound follows the calendar.
# (A date after the load is staging's rule: no raw suite compares dates with today any more.)
CURRENT_YEAR = {"$PARAMETER": "current_year"}


@dataclass(frozen=True)
class SuiteSpec:
    """One suite on one table; validated as one GX validation definition of the stage's checkpoint."""

    name: str
    stage: str
    schema: str
    table: str
    expectations: Sequence[Expectation] = field(default_factory=tuple)
    per_load: str | None = None
    """A ledger file kind (audit.load_batches.file_kind): validate the table one load at a time
    (a GX batch per ``_load_id``), each load once, instead of the whole table on every run."""

    @property
    def asset_name(self) -> str:
        return f"{self.schema}_{self.table}"


def named(check: str, expectation: Expectation, why: str | None = None) -> Expectation:
    """Give `expectation` its stable check name, and the reason it exists as a Data Docs note."""
    expectation.meta = {**(expectation.meta or {}), "check": check}
    if why:
        expectation.notes = why
    return expectation


def column_set(columns: Iterable[str]) -> Expectation:
    return named(
        "column_set",
        gxe.ExpectTableColumnsToMatchSet(column_set=list(columns), exact_match=True),
        "The landing table has exactly the columns of the contract (streamlytics/ingest/schema.sql).",
    )


def not_empty() -> Expectation:
    return named("has_rows", gxe.ExpectTableRowCountToBeBetween(min_value=1))


def id_pattern(column: str, regex: str, what: str) -> Expectation:
    return named(
        f"{column}_pattern",
        gxe.ExpectColumnValuesToMatchRegex(column=column, regex=regex),
        f"{what}; ids widen beyond the course width at large scale, never shrink.",
    )


def canonical_spelling(column: str, values: Sequence[str]) -> Expectation:
    """Warning: the value is not spelled as one of the canonical `values` (dbt vars).

    This reports a delivery's drift on arrival and never fails the gate: dbt staging owns the
    rule. It trims and canonicalises case (macro `canonical_value`), quarantines a plan, device
    or quality still outside the list as out_of_range, and lets an unknown country or genre
    flow on (its warn-level test reports it).
    """
    return named(
        f"{column}_canonical_spelling",
        gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(values), severity=WARNING),
        "Not a canonical spelling: stray case or spaces (staging normalises them) or a value "
        "outside the list (staging quarantines a plan, device or quality; a country or genre "
        "flows on and dbt warns). A new value here means a var to update in dbt_project.yml.",
    )


def between(
    check: str,
    column: str,
    min_value: object = None,
    max_value: object = None,
    why: str | None = None,
    severity: str = ERROR,
    mostly: float | None = None,
) -> Expectation:
    kwargs: dict[str, object] = {"column": column, "severity": severity}
    if min_value is not None:
        kwargs["min_value"] = min_value
    if max_value is not None:
        kwargs["max_value"] = max_value
    if mostly is not None:
        kwargs["mostly"] = mostly
    return named(check, gxe.ExpectColumnValuesToBeBetween(**kwargs), why)


def null_rate(column: str, max_null_share: float, why: str, severity: str = ERROR) -> Expectation:
    """At most `max_null_share` of the rows may have no `column`."""
    return named(
        f"{column}_null_rate",
        gxe.ExpectColumnValuesToNotBeNull(
            column=column, mostly=round(1 - max_null_share, 6), severity=severity
        ),
        why,
    )


def sql_check(
    check: str, description: str, query: str, severity: str = ERROR, why: str | None = None
) -> Expectation:
    """A rule over several tables: fails when `query` returns rows.

    Queries read the suite's table through a CTE (``with ledger as (select * from {batch})``)
    and never alias ``{batch}`` themselves: see :func:`alias_batch`.
    """
    return named(
        check,
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=alias_batch(textwrap.dedent(query).strip()),
            description=description,
            severity=severity,
        ),
        why,
    )


def alias_batch(query: str) -> str:
    """``query`` with ``{batch}`` aliased where GX leaves the alias to the query's author.

    GX renders ``{batch}`` as a table name, as ``(select …) as subselect``, or — when the query
    contains a join — as a bare ``(select …)``: "join queries must alias the batch themselves".
    PostgreSQL 15 and older reject a subquery in FROM without an alias (16 accepts it), so the
    ledger and mart checks, which all join, failed there. GX's own test decides, so the two
    cannot disagree about which queries need the alias.
    """
    from great_expectations.expectations.metrics.query_metric_provider import (
        _query_has_join_clause,
    )

    if not _query_has_join_clause(query):
        return query
    return query.replace("{batch}", "{batch} as batch_rows")
