"""What arrived, what was refused and why: the load ledger, the quarantine and the dbt tests.

Per loaded batch (one file as received): lines read, rows landed, rows refused at ingest and
at dbt staging, rows that reached the core, and whether every line is accounted for
(lines read = core rows + refused rows). Per file, stage, rule and field: how many rows were
refused. From dbt's run_results.json, when one is given: how many tests passed, warned,
failed or errored, and which ones did not pass. Nothing here changes data; it only reports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from python_models.results import Result
from python_models.warehouse import read_model
from streamlytics.dbt_relations import relation

RECONCILED, NOT_RECONCILED = "reconciled", "not reconciled"


@dataclass(frozen=True)
class DataQuality:
    results: list[Result]
    rules: (
        pd.DataFrame
    )  # source_file, batch_id, stage, reason_code, field, rows, share_of_file, example_message


def loaded_batches(conn: Any) -> pd.DataFrame:
    """Every loaded batch with where its records went (ana_loaded_batches), in load order."""
    return read_model(
        conn,
        "ana_loaded_batches",
        [
            "load_id",
            "batch_id",
            "source_file",
            "file_kind",
            "lines_read",
            "rows_loaded",
            "rows_quarantined",
            "rows_refused_at_ingest",
            "rows_refused_at_staging",
            "rows_in_core",
            "started_at",
            "finished_at",
        ],
        order_by=("load_id",),
    )


def refused_by_rule(conn: Any) -> pd.DataFrame:
    """Refused rows of the loaded batches per file, stage, reason and field, with one example."""
    rules = read_model(
        conn,
        "ana_refused_rows_by_rule",
        [
            "source_file",
            "batch_id",
            "stage",
            "reason_code",
            "field",
            "refused_rows",
            "example_message",
        ],
    ).rename(columns={"refused_rows": "rows"})
    rules["rows"] = rules["rows"].astype(int)
    order = ["source_file", "stage", "rows", "reason_code", "field", "batch_id"]
    ascending = [True, True, False, True, True, True]
    return rules.sort_values(order, ascending=ascending, kind="stable").reset_index(drop=True)


def dbt_test_summary(run_results: Path | None) -> Result | None:
    """Counts of dbt test outcomes from a run_results.json, or None when there is none."""
    if run_results is None or not run_results.is_file():
        return None
    doc = json.loads(run_results.read_text(encoding="utf-8"))
    tests = [r for r in doc.get("results", []) if str(r.get("unique_id", "")).startswith("test.")]
    if not tests:
        return None
    by_status: dict[str, int] = {}
    for t in tests:
        by_status[t["status"]] = by_status.get(t["status"], 0) + 1
    not_passed = [
        {
            "test": t["unique_id"],
            "status": t["status"],
            "failures": t.get("failures"),
            "message": t.get("message"),
        }
        for t in tests
        if t["status"] != "pass"
    ]
    passed = by_status.get("pass", 0)
    generated = doc.get("metadata", {}).get("generated_at")
    return Result(
        section="data_quality",
        name="dbt_tests",
        variables="dbt data tests",
        statistic_name="tests_passed",
        statistic=float(passed),
        n=len(tests),
        verdict="all passed" if passed == len(tests) else "not all passed",
        interpretation=f"dbt: {passed} of {len(tests)} data tests passed ({', '.join(f'{k} {v}' for k, v in sorted(by_status.items()))}).",
        details={
            "by_status": by_status,
            "not_passed": not_passed,
            "generated_at": generated,
            "run_results": str(run_results),
        },
    )


def run(conn: Any, run_results: Path | None = None) -> DataQuality:
    """The assessment of the data currently loaded."""
    quarantine = str(relation("all_quarantine"))
    batches = loaded_batches(conn)
    rules = refused_by_rule(conn)
    results: list[Result] = []
    for b in batches.itertuples(index=False):
        ingest = int(b.rows_refused_at_ingest)
        staging = int(b.rows_refused_at_staging)
        in_core = int(b.rows_in_core)
        lines = int(b.lines_read or 0)
        balanced = lines == in_core + ingest + staging
        share = (ingest + staging) / lines if lines else 0.0
        results.append(
            Result(
                section="data_quality",
                name=f"file_{b.source_file}",
                variables=f"{b.source_file} (batch {b.batch_id[:12]})",
                statistic_name="rows_refused",
                statistic=float(ingest + staging),
                effect_name="share_refused",
                effect=share,
                n=lines,
                verdict=RECONCILED if balanced else NOT_RECONCILED,
                interpretation=(
                    f"{b.source_file}: {lines:,} records read, {in_core:,} reached the core, "
                    f"{ingest:,} refused at ingest and {staging:,} at staging ({share:.2%}); "
                    + (
                        "every record is accounted for."
                        if balanced
                        else f"{lines - in_core - ingest - staging:+,} records unaccounted for."
                    )
                ),
                details={
                    "batch_id": b.batch_id,
                    "file_kind": b.file_kind,
                    "lines_read": lines,
                    "rows_loaded": int(b.rows_loaded or 0),
                    "rows_quarantined_at_ingest": ingest,
                    "rows_quarantined_at_staging": staging,
                    "rows_in_core": in_core,
                    "loaded_at": b.finished_at.isoformat() if b.finished_at is not None else None,
                    "quarantine_source": quarantine,
                },
            )
        )
    lines_by_batch = dict(zip(batches["batch_id"], batches["lines_read"].fillna(0).astype(int)))
    rules = rules.assign(
        rows=rules["rows"].astype(int),
        share_of_file=[
            r / lines_by_batch[b] if lines_by_batch.get(b) else None
            for r, b in zip(rules["rows"], rules["batch_id"])
        ],
    )
    for r in rules.itertuples(index=False):
        results.append(
            Result(
                section="data_quality",
                name=f"refused_{r.source_file}_{r.stage}_{r.reason_code}_{r.field or 'row'}",
                variables=f"{r.source_file} | {r.stage} | {r.reason_code} | {r.field or '-'}",
                statistic_name="rows",
                statistic=float(r.rows),
                effect_name="share_of_file",
                effect=r.share_of_file,
                n=int(lines_by_batch.get(r.batch_id, 0)),
                interpretation=f"{r.source_file}: {r.rows:,} rows refused at {r.stage} for {r.reason_code}"
                + (f" in field {r.field}" if r.field else "")
                + f", e.g. {r.example_message}",
                details={
                    "batch_id": r.batch_id,
                    "stage": r.stage,
                    "reason_code": r.reason_code,
                    "field": r.field or None,
                },
            )
        )
    dbt = dbt_test_summary(run_results)
    if dbt is not None:
        results.append(dbt)
    return DataQuality(results, rules)
