"""The four aggregation pipelines answer exactly what the same questions answer in SQL.

Same data on both sides: the Postgres core (tests/mongo_testdata.py) and the documents
`publish` shaped from the dbt sync models built on it. The SQL (tests/sql_questions.py) reads
the session rows directly,
so a wrong document, a wrong pipeline stage or a server's wrong answer all fail here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg2
import pymongo
import pytest
import sql_questions
from _db_state import scratch_database
from mongo_testdata import build_sync_models, create_core, resolver
from pymongo.database import Database

from mongo import documents, pipelines, publish
from mongo.schemas import CONTENT_ANALYTICS, PIPELINE_RESULTS, USER_ANALYTICS


@pytest.fixture(scope="module")
def published(
    service_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Database]]:
    """(Postgres URL, Mongo database) holding the same data set, published once per module."""
    uri, name = service_urls["mongo"], f"test_pipelines_{uuid.uuid4().hex[:12]}"
    with (
        scratch_database(service_urls["postgres"], prefix="mongo_pipelines") as url,
        pymongo.MongoClient(uri) as client,
    ):
        create_core(url, users=60, sessions=900, seed=23)
        publish.publish(
            url, uri, name, resolve=resolver(build_sync_models(url, tmp_path_factory.mktemp("s")))
        )
        try:
            yield url, client[name]
        finally:
            client.drop_database(name)


def _sql_answer(url: str, name: str) -> list[dict[str, Any]]:
    with psycopg2.connect(url) as conn:
        rows = sql_questions.answer(conn, name)
    conn.close()
    return rows


def assert_same_rows(got: list[dict], want: list[dict], abs_tol: float = 0.0) -> None:
    """Same rows, same order, same columns (those of ``want``); integers and text exactly,
    floats to 1e-9 relative (or ``abs_tol``: a mart stores its ratios rounded)."""
    assert len(got) == len(want), (len(got), len(want))
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert set(w) <= set(g), (i, sorted(g), sorted(w))
        for key, value in w.items():
            if value is None or g[key] is None:
                assert g[key] is value, (i, key, g, w)
            elif isinstance(value, float) or isinstance(g[key], float):
                assert g[key] == pytest.approx(value, rel=1e-9, abs=abs_tol), (i, key, g, w)
            else:
                # bson's Int64 (sums beyond 32 bits) is an int subclass.
                assert g[key] == value and isinstance(g[key], type(value)), (i, key, g, w)


@pytest.mark.parametrize("name", list(pipelines.PIPELINES))
def test_pipeline_equals_the_same_question_in_sql(
    published: tuple[str, Database], name: str
) -> None:
    url, db = published
    rows = pipelines.run(db, name)
    assert rows, f"{name} returned no rows"
    want = _sql_answer(url, name)
    assert [sorted(r) for r in rows] == [sorted(r) for r in want]  # no column more or less
    assert_same_rows(rows, want)


def test_each_pipeline_has_at_least_three_stages_and_genres_are_unwound_before_grouping() -> None:
    for spec in pipelines.PIPELINES.values():
        assert len(spec.build()) >= 3, spec.name
    stages = pipelines.content_performance()
    ops = [next(iter(s)) for s in stages]
    assert ops.index("$unwind") < ops.index("$group")
    assert stages[ops.index("$unwind")]["$unwind"] == "$genres"


def test_content_performance_counts_a_title_once_per_genre(published: tuple[str, Database]) -> None:
    url, db = published
    rows = pipelines.run(db, "content_performance")
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("select count(*), count(distinct genre) from core.content_genres")
        pairs, genres = cur.fetchone()
    conn.close()
    assert sum(r["title_count"] for r in rows) == pairs
    assert len(rows) == genres


@pytest.mark.parametrize(
    "name,filters,keep",
    [
        ("engagement_by_demographics", {"country": "Chile"}, lambda r: r["country"] == "Chile"),
        (
            "engagement_by_demographics",
            {"subscription_type": "Premium"},
            lambda r: r["subscription_type"] == "Premium",
        ),
        ("content_performance", {"genre": "Drama"}, lambda r: r["genre"] == "Drama"),
        (
            "monthly_viewing_trends",
            {"since": "2024-03", "until": "2024-05"},
            lambda r: "2024-03" <= r["activity_month"] <= "2024-05",
        ),
    ],
)
def test_filtered_pipeline_equals_the_matching_rows_of_the_full_answer(
    published: tuple[str, Database], name: str, filters: dict, keep: Any
) -> None:
    _, db = published
    expected = [r for r in pipelines.run(db, name) if keep(r)]
    assert expected
    assert_same_rows(pipelines.run(db, name, **filters), expected)


def test_results_are_saved_for_the_report_and_saving_again_changes_nothing(
    published: tuple[str, Database],
) -> None:
    _, db = published
    results = pipelines.run_all(db)
    first = pipelines.save_results(db, results)
    assert first == publish.SyncCounts(inserted=len(pipelines.PIPELINES))
    assert pipelines.saved_results(db) == results
    doc = db[PIPELINE_RESULTS].find_one({"_id": "content_performance"})
    assert doc["stage_count"] >= 3 and doc["row_count"] == len(results["content_performance"])
    assert pipelines.save_results(db, pipelines.run_all(db)) == publish.SyncCounts(
        unchanged=len(results)
    )


def test_saved_results_are_reused_until_a_document_changes(
    published: tuple[str, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, source = published
    db = source.client[f"{source.name}_reuse"]
    try:
        for name in (USER_ANALYTICS, CONTENT_ANALYTICS):
            db[name].insert_many(list(source[name].find()))
        first = pipelines.run_all(db)
        assert not first.reused
        pipelines.save_results(db, first)

        real_run = pipelines.run

        def no_run(*args: Any, **kwargs: Any) -> None:
            raise AssertionError("a pipeline ran although no document changed")

        monkeypatch.setattr(pipelines, "run", no_run)
        again = pipelines.run_all(db)
        assert again.reused and again == first
        assert pipelines.save_results(db, again) == publish.SyncCounts(unchanged=len(first))

        monkeypatch.setattr(pipelines, "run", real_run)
        user = db[USER_ANALYTICS].find_one({"session_count": {"$gt": 0}})
        user["session_count"] += 1
        db[USER_ANALYTICS].replace_one({"_id": user["_id"]}, documents.with_hash(user))
        changed = pipelines.run_all(db)
        assert not changed.reused
        assert changed["engagement_by_demographics"] != first["engagement_by_demographics"]
    finally:
        source.client.drop_database(db.name)


@pytest.mark.parametrize("content_type", ["movie", "series"])
def test_top_titles_equal_the_sql_ranking(
    published: tuple[str, Database], content_type: str
) -> None:
    url, db = published
    with psycopg2.connect(url) as conn:
        want = sql_questions.top_titles(conn, content_type, limit=5)
    conn.close()
    assert len(want) == 5
    assert_same_rows(pipelines.top_titles(db, content_type, limit=5), want)
