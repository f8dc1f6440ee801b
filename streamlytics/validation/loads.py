"""Which loads of a per-load landing (SuiteSpec.per_load) a suite has already validated.

The sessions landing grows by one file a day; reading all of it on every run made validation
grow with the history. A per-load suite validates each load of its table once: a load is
read again only while it has not passed (an error-severity failure keeps it pending, so the
gate keeps failing until the delivery is fixed or superseded) or when the suite changed
(its fingerprint). The outcomes of a passed load, warnings included, are kept here and
reported again by every later run, so a report still covers every loaded load.

Rows are assumed immutable once validated: the ledger suite (raw_load_ledger), which reads
the whole landing on every run, catches rows added or deleted after a load, but an in-place
update of an already validated load is only seen by `streamlytics validate --all-loads`.

The record lives in the validated warehouse (audit.gx_validated_loads), next to the ledger it
refers to: another database (a test's, a benchmark's) starts with nothing validated. On Spark
it is a Parquet table of the landing's audit database (:class:`SparkValidatedLoads`): Parquet
has no upsert, so each pass is appended and the newest row of a (suite, load, fingerprint) wins.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from streamlytics.validation.report import ExpectationOutcome

TABLE = "audit.gx_validated_loads"
_DDL = f"""
create table if not exists {TABLE} (
    suite_name         text not null,
    load_id            bigint not null,
    suite_fingerprint  text not null,
    validated_at       timestamptz not null default now(),
    outcomes           jsonb not null,
    primary key (suite_name, load_id, suite_fingerprint)
)"""


def fingerprint(suite) -> str:
    """Hash of what `suite` checks (expectation types, arguments, severities; not ids or notes)."""
    configs = [
        {"type": e.expectation_type, "kwargs": e.configuration.kwargs, "severity": str(e.severity)}
        for e in suite.expectations
    ]
    return hashlib.sha256(json.dumps(configs, sort_keys=True, default=str).encode()).hexdigest()[
        :16
    ]


def loads_to_validate(
    conn, suite_name: str, file_kind: str, suite_fingerprint: str, revalidate: bool = False
) -> tuple[list[int], dict[int, list[ExpectationOutcome]]]:
    """(loads to read, outcomes of loads that passed earlier by load id) among the loaded loads of
    `file_kind` that landed rows. With `revalidate`, every such load is read again."""
    with conn.cursor() as cur:
        cur.execute(_DDL)
        cur.execute(
            f"""
            select b.load_id, case when %(revalidate)s then null else v.outcomes end
            from audit.load_batches as b
            left join {TABLE} as v
                on v.load_id = b.load_id and v.suite_name = %(suite)s and v.suite_fingerprint = %(fp)s
            where b.status = 'loaded' and b.file_kind = %(kind)s and b.rows_loaded > 0
            order by b.load_id
            """,
            {
                "suite": suite_name,
                "fp": suite_fingerprint,
                "kind": file_kind,
                "revalidate": revalidate,
            },
        )
        rows = cur.fetchall()
    conn.commit()
    return split_loads(rows)


def split_loads(
    rows: Sequence[tuple[int, Any]],
) -> tuple[list[int], dict[int, list[ExpectationOutcome]]]:
    """(load ids without recorded outcomes, recorded outcomes by load id) of (load_id, outcomes)
    rows, outcomes being None, a list of outcome dicts, or that list as JSON text."""
    pending = [int(load_id) for load_id, outcomes in rows if outcomes is None]
    carried = {
        int(load_id): [
            ExpectationOutcome(**o)
            for o in (json.loads(outcomes) if isinstance(outcomes, str) else outcomes)
        ]
        for load_id, outcomes in rows
        if outcomes is not None
    }
    return pending, carried


def record_pass(
    conn,
    suite_name: str,
    load_id: int,
    suite_fingerprint: str,
    outcomes: Sequence[ExpectationOutcome],
) -> None:
    """Remember that `load_id` passed `suite_name` (no error-severity failure) with `outcomes`."""
    with conn.cursor() as cur:
        cur.execute(
            f"""
            insert into {TABLE} (suite_name, load_id, suite_fingerprint, outcomes)
            values (%s, %s, %s, %s)
            on conflict (suite_name, load_id, suite_fingerprint)
            do update set outcomes = excluded.outcomes, validated_at = now()
            """,
            (
                suite_name,
                load_id,
                suite_fingerprint,
                json.dumps([asdict(o) for o in outcomes], default=str),
            ),
        )
    conn.commit()


class PostgresValidatedLoads:
    """The record in a PostgreSQL database, through a psycopg2 connection."""

    def __init__(self, conn) -> None:
        self.conn = conn

    def loads_to_validate(
        self, suite_name: str, file_kind: str, suite_fingerprint: str, revalidate: bool = False
    ) -> tuple[list[int], dict[int, list[ExpectationOutcome]]]:
        return loads_to_validate(self.conn, suite_name, file_kind, suite_fingerprint, revalidate)

    def record_pass(
        self,
        suite_name: str,
        load_id: int,
        suite_fingerprint: str,
        outcomes: Sequence[ExpectationOutcome],
    ) -> None:
        record_pass(self.conn, suite_name, load_id, suite_fingerprint, outcomes)


class SparkValidatedLoads:
    """The record as a Parquet table of the Spark landing's audit database (``audit_database``,
    the prefixed ``audit``), beside its ledger view ``load_batches``."""

    def __init__(self, spark, audit_database: str) -> None:
        self.spark = spark
        self.table = f"{audit_database}.gx_validated_loads"
        self.ledger = f"{audit_database}.load_batches"
        spark.sql(
            f"create table if not exists {self.table} (suite_name string, load_id bigint, "
            "suite_fingerprint string, validated_at timestamp, outcomes string) using parquet"
        )

    def loads_to_validate(
        self, suite_name: str, file_kind: str, suite_fingerprint: str, revalidate: bool = False
    ) -> tuple[list[int], dict[int, list[ExpectationOutcome]]]:
        self.spark.sql(f"refresh table {self.table}")
        rows = self.spark.sql(
            f"""
            select b.load_id, case when :revalidate then null else v.outcomes end as outcomes
            from {self.ledger} as b
            left join (
                select load_id, max_by(outcomes, validated_at) as outcomes
                from {self.table}
                where suite_name = :suite and suite_fingerprint = :fp
                group by load_id
            ) as v on v.load_id = b.load_id
            where b.status = 'loaded' and b.file_kind = :kind and b.rows_loaded > 0
            order by b.load_id
            """,
            args={
                "suite": suite_name,
                "fp": suite_fingerprint,
                "kind": file_kind,
                "revalidate": revalidate,
            },
        ).collect()
        return split_loads([(row[0], row[1]) for row in rows])

    def record_pass(
        self,
        suite_name: str,
        load_id: int,
        suite_fingerprint: str,
        outcomes: Sequence[ExpectationOutcome],
    ) -> None:
        self.spark.sql(
            f"insert into {self.table} values (:suite, :load_id, :fp, current_timestamp(), :outcomes)",
            args={
                "suite": suite_name,
                "load_id": load_id,
                "fp": suite_fingerprint,
                "outcomes": json.dumps([asdict(o) for o in outcomes], default=str),
            },
        )


def merge_loads(by_load: dict[int, list[ExpectationOutcome]]) -> list[ExpectationOutcome]:
    """One outcome per check over several loads: met only if met on every load; the observed
    values of the loads side by side; counts added up; the first offending values of each."""
    if len(by_load) == 1:
        return next(iter(by_load.values()))
    merged: dict[str, list[tuple[int, ExpectationOutcome]]] = {}
    for load_id in sorted(by_load):
        for outcome in by_load[load_id]:
            merged.setdefault(outcome.check, []).append((load_id, outcome))
    result = []
    for pairs in merged.values():
        first = pairs[0][1]
        failing = [(i, o) for i, o in pairs if not o.success]
        # Every failing load by name; when all passed, the newest load's figure and how many.
        shown = failing or pairs[-1:]
        prefix = "" if failing else f"met on {len(pairs)} loads; "
        counts = [o.unexpected_count for _, o in pairs if o.unexpected_count is not None]
        result.append(
            ExpectationOutcome(
                suite=first.suite,
                check=first.check,
                expectation_type=first.expectation_type,
                column=first.column,
                severity=first.severity,
                success=not failing,
                observed=prefix + "; ".join(f"load {i}: {o.observed}" for i, o in shown),
                unexpected_count=sum(counts) if counts else None,
                unexpected_percent=first.unexpected_percent if len(pairs) == 1 else None,
                sample=[v for _, o in failing for v in o.sample][:5],
                error=next((o.error for _, o in pairs if o.error), None),
            )
        )
    return result
