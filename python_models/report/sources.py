"""Everything the report shows, read at build time from where the pipeline left it.

- the latest analysis run and its rows (schema ``analysis``, written by python_models.persist);
- the core, for the distribution charts and the Ward dendrogram (python_models.data);
- the dashboard marts (schema ``marts``);
- the load ledger and the quarantine (schema ``audit``);
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

from python_models.data import query_frame

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
    with conn.cursor() as cur:
        cur.execute("select to_regclass(%s) is not null", (f"{schema}.{table}",))
        return bool(cur.fetchone()[0])


def marts(conn: Any) -> dict[str, pd.DataFrame]:
    """The dashboard marts that exist, by name (an absent mart is simply not in the dict)."""
    out = {}
    for name in DASHBOARD_MARTS:
        if table_exists(conn, "marts", name):
            frame = query_frame(conn, f"select * from marts.{name}")
            out[name] = _numeric(frame)
    return out


def _numeric(frame: pd.DataFrame) -> pd.DataFrame:
    # Postgres numeric arrives as Decimal; the report formats and plots floats.
    for column in frame.columns:
        if (
            frame[column].dtype == object
            and frame[column].map(lambda v: v.__class__.__name__ == "Decimal").any()
        ):
            frame[column] = pd.to_numeric(frame[column]).astype("float64")
    return frame


LEDGER_SQL = """
with quarantined as (
    select batch_id, count(*) filter (where stage = 'staging') as staging_rows
    from {quarantine}
    group by batch_id
)
select b.source_file, b.file_kind, b.load_id, left(b.batch_id, 12) as batch,
       b.lines_read, b.rows_loaded, b.rows_quarantined, coalesce(q.staging_rows, 0) as rows_rejected_in_staging,
       b.file_bytes, b.finished_at
from audit.load_batches as b
left join quarantined as q on q.batch_id = b.batch_id
where b.status = 'loaded'
order by b.load_id
"""

# Only the quarantine of batches still loaded: a superseded batch's rows are not in the core.
QUARANTINE_SQL = """
select q.source_file, q.stage, q.reason_code, count(*) as rows
from {quarantine} as q
inner join audit.load_batches as b on b.batch_id = q.batch_id and b.status = 'loaded'
group by q.source_file, q.stage, q.reason_code
order by q.source_file, q.stage, rows desc, q.reason_code
"""

EXAMPLES_SQL = """
select distinct on (q.source_file, q.reason_code) q.source_file, q.reason_code, q.message
from {quarantine} as q
inner join audit.load_batches as b on b.batch_id = q.batch_id and b.status = 'loaded'
order by q.source_file, q.reason_code, q.source_line nulls last
"""


def quality(conn: Any, run_results: Path | None) -> QualityData:
    """Ledger of the loaded batches, quarantine counts by file, stage and reason, dbt's tests.

    Staging rejects are in audit.all_quarantine once dbt has built it; before that only the
    ingest quarantine (audit.quarantine) exists, and that is what is shown.
    """
    if not table_exists(conn, "audit", "load_batches"):
        raise ReportSourceError(
            "audit.load_batches is missing: ingest the raw files first (`streamlytics ingest`)."
        )
    relation = (
        "audit.all_quarantine"
        if table_exists(conn, "audit", "all_quarantine")
        else "audit.quarantine"
    )
    return QualityData(
        ledger=query_frame(conn, LEDGER_SQL.format(quarantine=relation)),
        quarantine=query_frame(conn, QUARANTINE_SQL.format(quarantine=relation)),
        examples=query_frame(conn, EXAMPLES_SQL.format(quarantine=relation)),
        dbt=dbt_summary(run_results),
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
