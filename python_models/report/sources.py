"""Everything the report shows, read at build time from where the pipeline left it.

- the latest analysis run and its rows (schema ``analysis``, written by python_models.persist);
- the analysis models, for the distribution charts and the Ward dendrogram (python_models.data);
- the dashboard marts;
- the load ledger and the quarantine (the ana_loaded_batches, ana_refused_rows_by_file and
  ana_refusal_examples models);
- dbt's run_results.json (the test summary), when a build left one;
- the four MongoDB pipeline results (collection ``pipeline_results``), when published.

Nothing is cached and nothing is computed here beyond reading: a missing optional source is
reported as missing (None / empty), a missing analysis run is an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from python_models.warehouse import model_exists, query_frame, read_model, relation_exists
from streamlytics.dbt_relations import relation

DASHBOARD_MARTS = (
    "rpt_executive_summary",
    "rpt_user_analytics",
    "rpt_content_performance",
    "rpt_financial_revenue",
    "rpt_geographic",
    "rpt_device_completion",
)


class ReportSourceError(RuntimeError):
    """A source the report cannot do without is missing: the message says what to run first."""


@dataclass(frozen=True)
class DbtSummary:
    path: str
    generated_at: str | None
    counts: dict[str, dict[str, int]]
    problems: list[dict[str, Any]]


@dataclass
class QualityData:
    ledger: pd.DataFrame  # one row per loaded batch: file, lines read, landed, quarantined...
    quarantine: pd.DataFrame  # source_file, stage, reason_code, rows
    examples: pd.DataFrame  # one example message per (source_file, reason_code)
    dbt: DbtSummary | None


@dataclass
class MongoResults:
    database: str
    pipelines: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    error: str | None = None


def table_exists(conn: Any, schema: str, table: str) -> bool:
    """Whether `schema`.`table` exists (the analysis schema, which persist writes, not dbt)."""
    return relation_exists(conn, f"{schema}.{table}")


def marts(conn: Any) -> dict[str, pd.DataFrame]:
    """The dashboard marts that exist, by name (an absent mart is simply not in the dict)."""
    out = {}
    for name in DASHBOARD_MARTS:
        if model_exists(conn, name):
            frame = query_frame(conn, f"select * from {relation(name)}")
            out[name] = _numeric(frame)
    return out


def _numeric(frame: pd.DataFrame) -> pd.DataFrame:
    # Exact decimals arrive as Decimal; the report formats and plots floats.
    for column in frame.columns:
        if (
            frame[column].dtype == object
            and frame[column].map(lambda v: v.__class__.__name__ == "Decimal").any()
        ):
            frame[column] = pd.to_numeric(frame[column]).astype("float64")
    return frame


QUALITY_MODELS = ("ana_loaded_batches", "ana_refused_rows_by_file", "ana_refusal_examples")


def quality(conn: Any, run_results: Path | None) -> QualityData:
    """Ledger of the loaded batches, quarantine counts by file, stage and reason, dbt's tests."""
    missing = [m for m in QUALITY_MODELS if not model_exists(conn, m)]
    if missing:
        raise ReportSourceError(
            f"{', '.join(missing)} not built: ingest the raw files and build the dbt project "
            "first (`streamlytics ingest`, `streamlytics transform`)."
        )
    ledger = read_model(
        conn,
        "ana_loaded_batches",
        [
            "source_file",
            "file_kind",
            "load_id",
            "batch_id",
            "lines_read",
            "rows_loaded",
            "rows_quarantined",
            "rows_refused_at_staging",
            "file_bytes",
            "finished_at",
        ],
        order_by=("load_id",),
    )
    ledger.insert(3, "batch", ledger.pop("batch_id").str[:12])
    ledger = ledger.rename(columns={"rows_refused_at_staging": "rows_rejected_in_staging"})
    quarantine = read_model(
        conn, "ana_refused_rows_by_file", ["source_file", "stage", "reason_code", "refused_rows"]
    ).rename(columns={"refused_rows": "rows"})
    quarantine = quarantine.sort_values(
        ["source_file", "stage", "rows", "reason_code"],
        ascending=[True, True, False, True],
        kind="stable",
    ).reset_index(drop=True)
    examples = read_model(
        conn,
        "ana_refusal_examples",
        ["source_file", "reason_code", "message"],
        order_by=("source_file", "reason_code"),
    )
    return QualityData(
        ledger=ledger, quarantine=quarantine, examples=examples, dbt=dbt_summary(run_results)
    )


def dbt_summary(path: Path | None) -> DbtSummary | None:
    """Counts by resource type and status, and every failed or warned node, from run_results.json."""
    if path is None or not path.exists():
        return None
    from streamlytics.transform import summarise_run_results

    payload = json.loads(path.read_text())
    counts, failures, warnings = summarise_run_results(payload)
    problems = [
        {"status": n.status, "type": n.resource_type, "name": n.name, "message": n.message[:300]}
        for n in (*failures, *warnings)
    ]
    generated = payload.get("metadata", {}).get("generated_at")
    return DbtSummary(str(path), generated, counts, problems)


def mongo_results(mongodb_uri: str | None, mongodb_db: str | None) -> MongoResults | None:
    """The saved pipeline results, or None when no MongoDB was named; an error is kept, not raised."""
    if not mongodb_uri or not mongodb_db:
        return None
    import pymongo
    from pymongo.errors import PyMongoError

    from mongo import pipelines

    try:
        with pymongo.MongoClient(mongodb_uri, serverSelectionTimeoutMS=5000) as client:
            found = pipelines.saved_results(client[mongodb_db])
    except PyMongoError as exc:
        # The report is still worth having without MongoDB; it says why that section is empty.
        return MongoResults(mongodb_db, {}, f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
    return MongoResults(mongodb_db, found)
