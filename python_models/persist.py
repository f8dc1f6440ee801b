"""Write a run's results: the tidy ``analysis`` schema in Postgres and a summary in MongoDB.

Every run appends under a new run_id (history is kept); ``analysis.latest_run`` names the most
recent completed one. A run is written in one transaction, so a reader never sees half a run.

Tables (one grain each):
- analysis.runs           one row per run: when, the data fingerprint, parameters, headline
- analysis.results        one row per test / coefficient / correlation / figure
- analysis.descriptive    one row per variable × unit × group
- analysis.series         one row per chart point (trends, ROC, calibration, silhouette by k)
- analysis.clusters       one row per clustering method × cluster × feature (profiles)
- analysis.user_clusters  one row per clustered user (both labels and 2-D PCA coordinates)
- analysis.data_quality   one row per loaded batch × stage × rule × field (refused rows)

The writes are standard SQL (parameterised multi-row ``insert … values``, JSON sent as text).
The DDL is standard SQL too except two PostgreSQL column types, ``uuid`` and ``jsonb``, and the
enforced keys: another engine needs its own names for those.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from python_models.descriptive import Description
from python_models.results import Result, clean

DDL = """
create schema if not exists analysis;

create table if not exists analysis.runs (
    run_id            uuid primary key,
    started_at        timestamp with time zone not null,
    finished_at       timestamp with time zone not null,
    status            text not null check (status in ('completed')),
    data_fingerprint  jsonb not null,
    parameters        jsonb not null,
    headline          jsonb not null
);
comment on table analysis.runs is 'One row per `streamlytics analyze` run: when, what data (row counts, latest load), parameters, headline figures.';

create table if not exists analysis.results (
    run_id          uuid not null references analysis.runs (run_id) on delete cascade,
    result_id       integer not null,
    section         text not null,
    name            text not null,
    variables       text not null,
    statistic_name  text,
    statistic       double precision,
    p_value         double precision,
    p_adjusted      double precision,
    effect_name     text,
    effect          double precision,
    ci_low          double precision,
    ci_high         double precision,
    n               bigint,
    verdict         text,
    interpretation  text not null,
    details         jsonb not null,
    primary key (run_id, result_id),
    unique (run_id, name)
);
comment on table analysis.results is 'One row per test, coefficient, correlation or figure of a run; p_adjusted is Holm within the section; CI columns are 95 %.';

create table if not exists analysis.descriptive (
    run_id               uuid not null references analysis.runs (run_id) on delete cascade,
    variable             text not null,
    level                text not null,
    grp                  text not null,
    n                    bigint not null,
    mean                 double precision,
    median               double precision,
    mode                 double precision,
    mode_count           bigint,
    sd                   double precision,
    min                  double precision,
    max                  double precision,
    q1                   double precision,
    q3                   double precision,
    iqr                  double precision,
    skew                 double precision,
    kurtosis             double precision,
    iqr_low_fence        double precision,
    iqr_high_fence       double precision,
    n_outliers_iqr       bigint not null,
    n_outliers_robust_z  bigint not null,
    primary key (run_id, variable, level, grp)
);
comment on table analysis.descriptive is 'Summary statistics per variable, unit (level) and group; outliers are counted, never removed.';

create table if not exists analysis.series (
    run_id       uuid not null references analysis.runs (run_id) on delete cascade,
    series       text not null,
    measure      text not null,
    point_index  integer not null,
    x_label      text,
    x            double precision,
    y            double precision,
    n            bigint,
    primary key (run_id, series, measure, point_index)
);
comment on table analysis.series is 'Chart points: monthly/weekday/daily trends, retention ROC and calibration, k-means silhouette by k.';

create table if not exists analysis.clusters (
    run_id    uuid not null references analysis.runs (run_id) on delete cascade,
    method    text not null,
    cluster   integer not null,
    n_users   bigint not null,
    feature   text not null,
    mean      double precision,
    median    double precision,
    primary key (run_id, method, cluster, feature)
);
comment on table analysis.clusters is 'Cluster profiles: per method (kmeans, ward) and cluster, the mean and median of each feature.';

create table if not exists analysis.user_clusters (
    run_id          uuid not null references analysis.runs (run_id) on delete cascade,
    user_id         text not null,
    kmeans_cluster  integer not null,
    ward_cluster    integer not null,
    in_ward_sample  boolean not null,
    pc1             double precision not null,
    pc2             double precision not null,
    primary key (run_id, user_id)
);
comment on table analysis.user_clusters is 'Each clustered user: k-means and Ward cluster, whether Ward was fitted on them, 2-D PCA coordinates.';

create table if not exists analysis.data_quality (
    run_id           uuid not null references analysis.runs (run_id) on delete cascade,
    source_file      text not null,
    batch_id         text not null,
    stage            text not null,
    reason_code      text not null,
    field            text not null,
    rows             bigint not null,
    share_of_file    double precision,
    example_message  text,
    primary key (run_id, batch_id, stage, reason_code, field)
);
comment on table analysis.data_quality is 'Refused rows of the loaded batches per file, stage, rule and field (empty field: the whole row).';

create or replace view analysis.latest_run as
select *
from analysis.runs
where status = 'completed'
order by finished_at desc
limit 1;
"""

SUMMARY_COLLECTION = "statistics_summary"
RESULT_COLUMNS = (
    "section",
    "name",
    "variables",
    "statistic_name",
    "statistic",
    "p_value",
    "p_adjusted",
    "effect_name",
    "effect",
    "ci_low",
    "ci_high",
    "n",
    "verdict",
    "interpretation",
)


@dataclass(frozen=True)
class RunRecord:
    """Everything one run writes."""

    run_id: str
    started_at: datetime
    finished_at: datetime
    fingerprint: dict[str, Any]
    parameters: dict[str, Any]
    headline: dict[str, Any]
    results: Sequence[Result]
    descriptive: Sequence[Description]
    series: Sequence[dict[str, Any]]
    cluster_profiles: pd.DataFrame
    user_clusters: pd.DataFrame
    data_quality: pd.DataFrame


def ensure_schema(conn: Any) -> None:
    """Create the analysis schema and its tables if missing (idempotent)."""
    with conn.cursor() as cur:
        cur.execute(DDL)


def _json(value: Any) -> str:
    # A JSON document as text: the warehouse parses it into its JSON column type on insert.
    return json.dumps(clean(value), allow_nan=False, default=str)


def _result_rows(run_id: str, results: Iterable[Result]) -> list[tuple[Any, ...]]:
    rows = []
    for i, r in enumerate(results):
        values = [clean(getattr(r, c)) for c in RESULT_COLUMNS]
        rows.append((run_id, i, *values, _json(r.details)))
    return rows


PAGE_ROWS = 1000


def _insert(cur: Any, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Multi-row ``insert … values (…), (…)`` in pages: standard SQL, one round trip per page."""
    placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
    for start in range(0, len(rows), PAGE_ROWS):
        page = rows[start : start + PAGE_ROWS]
        cur.execute(
            f"insert into analysis.{table} ({', '.join(columns)}) values "
            + ", ".join([placeholder] * len(page)),
            [value for row in page for value in row],
        )


def write_postgres(conn: Any, record: RunRecord) -> None:
    """Write the whole run in the caller's transaction (commit is the caller's)."""
    ensure_schema(conn)
    with conn.cursor() as cur:
        cur.execute(
            "insert into analysis.runs (run_id, started_at, finished_at, status, data_fingerprint, parameters, headline)"
            " values (%s, %s, %s, 'completed', %s, %s, %s)",
            (
                record.run_id,
                record.started_at,
                record.finished_at,
                _json(record.fingerprint),
                _json(record.parameters),
                _json(record.headline),
            ),
        )
        _insert(
            cur,
            "results",
            ("run_id", "result_id", *RESULT_COLUMNS, "details"),
            _result_rows(record.run_id, record.results),
        )
        desc_cols = tuple(record.descriptive[0].as_row()) if record.descriptive else ()
        _insert(
            cur,
            "descriptive",
            ("run_id", *desc_cols),
            [(record.run_id, *[clean(v) for v in d.as_row().values()]) for d in record.descriptive],
        )
        series_cols = ("series", "measure", "point_index", "x_label", "x", "y", "n")
        _insert(
            cur,
            "series",
            ("run_id", *series_cols),
            [(record.run_id, *[clean(p.get(c)) for c in series_cols]) for p in record.series],
        )
        prof_cols = ("method", "cluster", "n_users", "feature", "mean", "median")
        _insert(
            cur,
            "clusters",
            ("run_id", *prof_cols),
            [
                (record.run_id, *[clean(v) for v in row])
                for row in record.cluster_profiles[list(prof_cols)].itertuples(index=False)
            ],
        )
        uc_cols = ("user_id", "kmeans_cluster", "ward_cluster", "in_ward_sample", "pc1", "pc2")
        _insert(
            cur,
            "user_clusters",
            ("run_id", *uc_cols),
            [
                (record.run_id, *[clean(v) for v in row])
                for row in record.user_clusters[list(uc_cols)].itertuples(index=False)
            ],
        )
        dq_cols = (
            "source_file",
            "batch_id",
            "stage",
            "reason_code",
            "field",
            "rows",
            "share_of_file",
            "example_message",
        )
        _insert(
            cur,
            "data_quality",
            ("run_id", *dq_cols),
            [
                (record.run_id, *[clean(v) for v in row])
                for row in record.data_quality[list(dq_cols)].itertuples(index=False)
            ],
        )


def summary_document(record: RunRecord) -> dict[str, Any]:
    """The MongoDB summary of a run: headline figures, the seed verdicts and every tested result."""
    tested = [
        {
            k: clean(getattr(r, k))
            for k in (
                "section",
                "name",
                "variables",
                "statistic_name",
                "statistic",
                "p_value",
                "p_adjusted",
                "effect_name",
                "effect",
                "ci_low",
                "ci_high",
                "n",
                "verdict",
                "interpretation",
            )
        }
        for r in record.results
        if r.section
        in (
            "hypothesis",
            "correlation",
            "regression",
            "retention",
            "seed_finding",
            "seed_evidence",
            "clustering",
            "trend",
        )
    ]
    return clean(
        {
            "_id": record.run_id,
            "run_id": record.run_id,
            "started_at": record.started_at,
            "finished_at": record.finished_at,
            "data_fingerprint": record.fingerprint,
            "parameters": record.parameters,
            "headline": record.headline,
            "findings": [
                {"name": r.name, "verdict": r.verdict, "interpretation": r.interpretation}
                for r in record.results
                if r.section == "seed_finding"
            ],
            "results": tested,
        }
    )


def write_mongo(uri: str, db_name: str, record: RunRecord) -> None:
    """Upsert the run's summary document (keyed on run_id, so a retry does not duplicate it)."""
    import pymongo

    with pymongo.MongoClient(uri) as client:
        collection = client[db_name][SUMMARY_COLLECTION]
        collection.replace_one({"_id": record.run_id}, summary_document(record), upsert=True)
        collection.create_index([("finished_at", pymongo.DESCENDING)], name="finished_at_desc")


def to_json(headline: dict[str, Any]) -> str:
    return json.dumps(clean(headline), indent=2, default=str)
