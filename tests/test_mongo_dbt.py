"""End to end on the real models: generated files -> ingest -> dbt build -> publish -> pipelines.

One small data set (generator scale 0.02: 100 users, 42 titles, ~4.5k sessions) is built once
per module in its own Postgres and Mongo databases. Every published document (shaped from the
dbt sync models) must equal the one computed straight from the core's session log in SQL
(tests/documents_oracle.py); the pipelines must equal both the SQL over the dbt core and the
dbt marts that answer the same questions (marts store ratios rounded to 4-6 decimals, hence the
absolute tolerance there).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import documents_oracle
import psycopg2
import pymongo
import pytest
import sql_questions
from _db_state import scratch_database
from mongo_testdata import resolver
from psycopg2 import sql
from pymongo.database import Database
from test_mongo_pipelines import assert_same_rows

from mongo import compat, pipelines, publish
from mongo.schemas import CONTENT_ANALYTICS, USER_ANALYTICS
from streamlytics.dbt_relations import Relation

DBT_MODELS = (
    "+path:models/core",
    "+rpt_user_analytics",
    "+rpt_geographic",
    "+rpt_seasonal_by_month",
    "+rpt_content_performance",
    "+path:models/marts/sync",
)
MART_TOLERANCE = 5.0001e-5  # half a unit of the 4th decimal: the coarsest mart rounding


def _dbt_build(url: str, work: Path) -> None:
    from streamlytics.transform import run_build

    with pytest.MonkeyPatch.context() as env:
        env.setenv("DATABASE_URL", url)
        # Tests run only when all the models they read are built (not those of other marts).
        env.setenv("DBT_INDIRECT_SELECTION", "cautious")
        # Own target and log folders: other builds may run from the same project at once.
        # The core and the marts compared here, with their data tests (other marts are not
        # this module's concern).
        result = run_build(
            select=DBT_MODELS,
            exclude=("resource_type:unit_test",),
            target_path=work / "target",
            log_path=work / "logs",
        )
    assert result.ok, [f.describe() for f in result.failures] or result.output_tail


@dataclass
class Built:
    pg_url: str
    """Postgres database with raw, staging, core and marts built by dbt."""
    mongo_uri: str
    db: Database
    """Mongo database published from that core."""
    target: Path
    """The build's dbt target folder (manifest.json)."""
    resolve: Callable[[str], Relation]
    """Model name -> relation, from the build's manifest."""


@pytest.fixture(scope="module")
def built(
    service_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    from streamlytics.generate import generate_dataset
    from streamlytics.ingest.pipeline import ingest_directory

    work = tmp_path_factory.mktemp("mongo_dbt")
    with scratch_database(service_urls["postgres"]) as url:
        name = urlsplit(url).path.lstrip("/")
        client = pymongo.MongoClient(service_urls["mongo"])
        try:
            generate_dataset(work / "data", scale=0.02, seed=7)
            ingest_directory(work / "data", url)
            _dbt_build(url, work)
            resolve = resolver(work / "target")
            publish.publish(url, service_urls["mongo"], name, resolve=resolve)
            yield Built(url, service_urls["mongo"], client[name], work / "target", resolve)
        finally:
            client.drop_database(name)
            client.close()


def _fetch(url: str, fn, *args) -> list[dict]:
    with psycopg2.connect(url) as conn:
        rows = fn(conn, *args)
    conn.close()
    return rows


def test_one_document_per_core_user_and_title_with_unique_indexes(built: Built) -> None:
    url, db = built.pg_url, built.db
    counts = _fetch(
        url,
        sql_questions.fetch,
        sql.SQL(
            "select (select count(*) from core.users) as users, (select count(*) from core.content) as titles"
        ),
    )[0]
    assert db[USER_ANALYTICS].count_documents({}) == counts["users"] > 0
    assert db[CONTENT_ANALYTICS].count_documents({}) == counts["titles"] > 0
    assert compat.index_keys(db[USER_ANALYTICS])[(("user_id", 1),)] is True
    assert compat.index_keys(db[CONTENT_ANALYTICS])[(("content_id", 1),)] is True


@pytest.mark.parametrize("collection", [USER_ANALYTICS, CONTENT_ANALYTICS])
def test_every_document_equals_the_one_computed_from_the_core_session_log(
    built: Built, collection: str
) -> None:
    with psycopg2.connect(built.pg_url) as conn:
        want = {d["_id"]: d for d in documents_oracle.BUILDERS[collection](conn, "core")}
    conn.close()
    got = {d["_id"]: d for d in built.db[collection].find()}
    assert got.keys() == want.keys()
    for doc_id, doc in got.items():
        # Exact: same values, same types (int vs float), hence the same content hash.
        assert doc == want[doc_id], doc_id
        assert _types(doc) == _types(want[doc_id]), doc_id


def _types(value):
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value).__name__


def test_the_manifest_declares_the_publish_as_an_application_exposure_of_the_sync_models(
    built: Built,
) -> None:
    from mongo.documents import MODELS

    manifest = json.loads((built.target / "manifest.json").read_text(encoding="utf-8"))
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    publish_exposure = exposures["mongodb_publish"]
    assert publish_exposure["type"] == "application"
    assert {n.split(".")[-1] for n in publish_exposure["depends_on"]["nodes"]} == set(MODELS)
    assert any(e["type"] == "dashboard" for e in exposures.values())


@pytest.mark.parametrize("name", list(pipelines.PIPELINES))
def test_pipeline_equals_sql_over_the_dbt_core(built: Built, name: str) -> None:
    url, db = built.pg_url, built.db
    assert_same_rows(pipelines.run(db, name), _fetch(url, sql_questions.answer, name))


@pytest.mark.parametrize("name", ["engagement_by_demographics", "geographic_distribution"])
def test_pipeline_equals_the_dbt_mart(built: Built, name: str) -> None:
    url, db = built.pg_url, built.db
    mart = _fetch(url, sql_questions.mart_answer, name)
    assert mart
    assert_same_rows(pipelines.run(db, name), mart, abs_tol=MART_TOLERANCE)


def test_monthly_trend_summed_over_plans_equals_the_seasonal_mart(built: Built) -> None:
    url, db = built.pg_url, built.db
    by_month: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in pipelines.run(db, "monthly_viewing_trends"):
        m = by_month[row["activity_month"]]
        m["active_user_count"] += row["active_user_count"]  # a user has one plan: users add up
        m["session_count"] += row["session_count"]
        m["total_watch_minutes"] += row["total_watch_minutes"]
        m["completion"] += row["mean_completion_percentage"] * row["session_count"]
    rolled = [
        {
            "activity_month": month,
            "active_user_count": int(m["active_user_count"]),
            "session_count": int(m["session_count"]),
            "total_watch_minutes": int(m["total_watch_minutes"]),
            "mean_completion_percentage": m["completion"] / m["session_count"],
        }
        for month, m in sorted(by_month.items())
    ]
    mart = _fetch(url, sql_questions.mart_answer, "monthly_viewing_trends")
    assert mart
    assert_same_rows(rolled, mart, abs_tol=MART_TOLERANCE)


@pytest.mark.parametrize("content_type", ["movie", "series"])
def test_top_titles_equal_the_content_performance_mart(built: Built, content_type: str) -> None:
    url, db = built.pg_url, built.db
    mart = _fetch(url, sql_questions.top_titles_mart, content_type)
    assert len(mart) == 10
    assert_same_rows(pipelines.top_titles(db, content_type), mart, abs_tol=MART_TOLERANCE)


def test_the_top_titles_query_reads_the_compound_index(built: Built) -> None:
    db = built.db
    plan = (
        db[CONTENT_ANALYTICS]
        .find({"content_type": "movie"})
        .sort([("session_count", -1), ("total_watch_minutes", -1), ("content_id", 1)])
        .explain()
    )
    if not compat.winning_plan_uses_index(plan) and compat.is_embedded_server(db):
        pytest.xfail(
            "nx-27017's planner uses single-field indexes only; the compound index exists "
            "(and a real MongoDB reads it) but the embedded server scans ~300 titles"
        )
    assert compat.winning_plan_uses_index(plan)


def test_publishing_the_dbt_core_again_changes_nothing(built: Built) -> None:
    url, db = built.pg_url, built.db
    before = {n: list(db[n].find().sort("_id", 1)) for n in (USER_ANALYTICS, CONTENT_ANALYTICS)}
    again = publish.publish(url, built.mongo_uri, db.name, resolve=built.resolve)
    for name, docs in before.items():
        assert again[name] == publish.SyncCounts(unchanged=len(docs))
        assert list(db[name].find().sort("_id", 1)) == docs
