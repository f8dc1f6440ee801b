"""`publish`: documents shaped from the dbt sync models, synced idempotently into MongoDB.

Real servers: a throwaway Postgres database filled by tests/mongo_testdata.py (core-shaped
tables) on which dbt builds the sync models, and a throwaway MongoDB database. Expected values
are recomputed here from the core's session rows in Python, independently of the dbt SQL.
Tests that change the core work on a copy of the module's database and rebuild the sync models.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg2
import pymongo
import pytest
from _db_state import scratch_database
from mongo_testdata import build_sync_models, clone_database, create_core, resolver
from pymongo.database import Database
from sql_questions import age_band

from mongo import compat, publish, schemas
from mongo.schemas import CONTENT_ANALYTICS, USER_ANALYTICS
from streamlytics.dbt_relations import Relation


@pytest.fixture(scope="module")
def built(
    service_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """(URL, dbt target folder) of a core with the sync models built on it, for the module."""
    with scratch_database(service_urls["postgres"], prefix="mongo_core") as url:
        create_core(url)
        yield url, build_sync_models(url, tmp_path_factory.mktemp("sync"))


@pytest.fixture
def core_url(built: tuple[str, Path]) -> str:
    """The module's database (tests using it must not change it)."""
    return built[0]


@pytest.fixture
def resolve(built: tuple[str, Path]) -> Callable[[str], Relation]:
    return resolver(built[1])


@pytest.fixture
def own_core(
    built: tuple[str, Path], service_urls: dict[str, str], tmp_path: Path
) -> Iterator[str]:
    """A copy of the module's database that a test may change (then rebuild the sync models)."""
    url = clone_database(service_urls["postgres"], built[0], f"mongo_copy_{uuid.uuid4().hex[:12]}")
    try:
        yield url
    finally:
        conn = psycopg2.connect(service_urls["postgres"])
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'drop database if exists "{url.rsplit("/", 1)[1]}" with (force)')
        conn.close()


@pytest.fixture
def mdb(mongo_db: tuple[str, str]) -> Iterator[Database]:
    uri, name = mongo_db
    with pymongo.MongoClient(uri) as client:
        db = client[name]
        db.uri = uri  # type: ignore[attr-defined]  # what `publish` connects to
        yield db


def _publish(core_url: str, mdb: Database, resolve) -> dict[str, publish.SyncCounts]:
    return publish.publish(core_url, mdb.uri, mdb.name, resolve=resolve)  # type: ignore[attr-defined]


def _sql(url: str, query: str, args: tuple = ()) -> list[tuple]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(query, args)
        rows = cur.fetchall() if cur.description else []
    conn.close()
    return rows


def _all(mdb: Database, name: str) -> dict[str, dict]:
    return {d["_id"]: d for d in mdb[name].find()}


def test_publish_writes_one_document_per_user_and_title_with_unique_indexes(
    core_url: str, mdb: Database, resolve
) -> None:
    counts = _publish(core_url, mdb, resolve)
    n_users = _sql(core_url, "select count(*) from core.users")[0][0]
    n_titles = _sql(core_url, "select count(*) from core.content")[0][0]
    assert counts[USER_ANALYTICS] == publish.SyncCounts(inserted=n_users)
    assert counts[CONTENT_ANALYTICS] == publish.SyncCounts(inserted=n_titles)
    users, titles = _all(mdb, USER_ANALYTICS), _all(mdb, CONTENT_ANALYTICS)
    assert sorted(users) == sorted(r[0] for r in _sql(core_url, "select user_id from core.users"))
    assert sorted(titles) == sorted(
        r[0] for r in _sql(core_url, "select content_id from core.content")
    )
    assert compat.index_keys(mdb[USER_ANALYTICS])[(("user_id", 1),)] is True
    assert compat.index_keys(mdb[CONTENT_ANALYTICS])[(("content_id", 1),)] is True
    for name, docs in ((USER_ANALYTICS, users), (CONTENT_ANALYTICS, titles)):
        for doc in docs.values():
            assert schemas.validation_errors(name, doc) == [], doc["_id"]


def test_user_document_equals_its_sessions_recomputed_in_python(
    core_url: str, mdb: Database, resolve
) -> None:
    _publish(core_url, mdb, resolve)
    sessions = _sql(
        core_url,
        "select user_id, content_id, watch_date, watch_minutes, "
        "completion_percentage, device_type, quality_level from core.viewing_sessions",
    )
    users = {
        r[0]: r
        for r in _sql(
            core_url,
            "select user_id, age, country, subscription_type, lifetime_watch_hours from core.users",
        )
    }
    docs = _all(mdb, USER_ANALYTICS)
    per_user: dict[str, list[tuple]] = defaultdict(list)
    for s in sessions:
        per_user[s[0]].append(s)
    for user_id, (_, age, country, plan, hours) in users.items():
        doc, mine = docs[user_id], per_user.get(user_id, [])
        assert (doc["age"], doc["country"], doc["subscription_type"]) == (age, country, plan)
        assert doc["age_band"] == age_band(age)  # the data set has ages at every band edge
        assert doc["segment"] == f"{age_band(age)}|{plan}|{country}"
        assert doc["lifetime_watch_hours"] == pytest.approx(float(hours))
        assert doc["session_count"] == len(mine)
        assert doc["total_watch_minutes"] == sum(s[3] for s in mine)
        assert doc["distinct_content_count"] == len({s[1] for s in mine})
        if not mine:
            assert doc["mean_completion_percentage"] is None and doc["first_watch_date"] is None
            assert doc["by_device"] == doc["monthly_activity"] == {}
            continue
        assert doc["mean_completion_percentage"] == pytest.approx(
            sum(float(s[4]) for s in mine) / len(mine)
        )
        assert doc["first_watch_date"].date() == min(s[2] for s in mine)
        assert doc["last_watch_date"].date() == max(s[2] for s in mine)
        for field, index in (("by_device", 5), ("by_quality", 6)):
            keys = {s[index] for s in mine}
            assert set(doc[field]) == keys
            for key in keys:
                part = [s for s in mine if s[index] == key]
                assert doc[field][key]["session_count"] == len(part)
                assert doc[field][key]["total_watch_minutes"] == sum(s[3] for s in part)
        months = {s[2].strftime("%Y-%m") for s in mine}
        assert set(doc["monthly_activity"]) == months and doc["active_month_count"] == len(months)
        assert sum(m["session_count"] for m in doc["monthly_activity"].values()) == len(mine)
    assert any(
        d["session_count"] == 0 for d in docs.values()
    )  # the data set's user without sessions


def test_content_document_has_genres_in_order_and_country_breakdown(
    core_url: str, mdb: Database, resolve
) -> None:
    _publish(core_url, mdb, resolve)
    genres: dict[str, list[str]] = defaultdict(list)
    for cid, genre in _sql(
        core_url,
        "select content_id, genre from core.content_genres order by content_id, genre_position",
    ):
        genres[cid].append(genre)
    rows = _sql(
        core_url,
        "select s.content_id, u.country, s.watch_minutes, s.user_id "
        "from core.viewing_sessions s join core.users u using (user_id)",
    )
    docs = _all(mdb, CONTENT_ANALYTICS)
    for cid, doc in docs.items():
        assert doc["genres"] == genres[cid]
        mine = [r for r in rows if r[0] == cid]
        assert doc["session_count"] == len(mine) and doc["viewer_count"] == len(
            {r[3] for r in mine}
        )
        by_country: dict[str, int] = defaultdict(int)
        for r in mine:
            by_country[r[1]] += r[2]
        assert {k: v["total_watch_minutes"] for k, v in doc["by_country"].items()} == by_country
    movie = docs["M001"]
    assert (
        movie["content_type"] == "movie" and movie["season_count"] is None and movie["release_year"]
    )
    series = docs["S001"]
    episodes = _sql(
        core_url,
        "select sum(episode_count), count(*) from core.series_episodes where content_id = 'S001'",
    )[0]
    assert series["content_type"] == "series" and series["release_year"] is None
    assert (series["episode_total"], series["season_count"]) == episodes


def test_publishing_twice_changes_nothing(core_url: str, mdb: Database, resolve) -> None:
    _publish(core_url, mdb, resolve)
    before = {n: _all(mdb, n) for n in (USER_ANALYTICS, CONTENT_ANALYTICS)}
    again = _publish(core_url, mdb, resolve)
    for name, docs in before.items():
        assert again[name] == publish.SyncCounts(unchanged=len(docs))
        assert _all(mdb, name) == docs


def test_a_changed_row_propagates_and_only_what_depends_on_it_is_rewritten(
    own_core: str, mdb: Database, resolve, tmp_path: Path
) -> None:
    core_url = own_core
    _publish(core_url, mdb, resolve)
    old_country = _sql(core_url, "select country from core.users where user_id = 'U0003'")[0][0]
    new_country = "Peru" if old_country != "Peru" else "Chile"
    _sql(
        core_url,
        "update core.users set subscription_type = 'Premium', country = %s where user_id = 'U0003'",
        (new_country,),
    )
    _sql(core_url, "update core.content set rating = 4.9 where content_id = 'M002'")
    counts = _publish(core_url, mdb, resolver(build_sync_models(core_url, tmp_path)))

    assert counts[USER_ANALYTICS] == publish.SyncCounts(
        updated=1, unchanged=mdb[USER_ANALYTICS].count_documents({}) - 1
    )
    user = mdb[USER_ANALYTICS].find_one({"_id": "U0003"})
    assert (user["subscription_type"], user["country"]) == ("Premium", new_country)
    # The user's country feeds the by_country breakdown of every title they watched.
    watched = {
        r[0]
        for r in _sql(
            core_url,
            "select distinct content_id from core.viewing_sessions where user_id = 'U0003'",
        )
    }
    assert watched
    assert counts[CONTENT_ANALYTICS].updated == len(watched | {"M002"})
    assert counts[CONTENT_ANALYTICS].inserted == counts[CONTENT_ANALYTICS].removed == 0
    assert mdb[CONTENT_ANALYTICS].find_one({"_id": "M002"})["rating"] == 4.9
    for cid in watched:
        assert new_country in mdb[CONTENT_ANALYTICS].find_one({"_id": cid})["by_country"]


def test_a_deleted_row_is_removed_and_a_new_row_inserted(
    own_core: str, mdb: Database, resolve, tmp_path: Path
) -> None:
    core_url = own_core
    _publish(core_url, mdb, resolve)
    n_users = mdb[USER_ANALYTICS].count_documents({})
    _sql(core_url, "delete from core.viewing_sessions where user_id = 'U0005'")
    _sql(core_url, "delete from core.users where user_id = 'U0005'")
    _sql(
        core_url,
        "insert into core.users values ('U9999', 'Chile', 'Basic', 40, '2023-05-05', 10.0)",
    )
    counts = _publish(core_url, mdb, resolver(build_sync_models(core_url, tmp_path)))
    assert counts[USER_ANALYTICS].removed == 1 and counts[USER_ANALYTICS].inserted == 1
    assert counts[USER_ANALYTICS].updated == 0
    assert mdb[USER_ANALYTICS].find_one({"_id": "U0005"}) is None
    assert mdb[USER_ANALYTICS].find_one({"_id": "U9999"})["session_count"] == 0
    assert mdb[USER_ANALYTICS].count_documents({}) == n_users
    assert counts[CONTENT_ANALYTICS].removed == 0


def test_an_invalid_document_stops_the_sync_before_any_write(mdb: Database) -> None:
    coll = mdb[USER_ANALYTICS]
    with pytest.raises(schemas.DocumentInvalid, match="_id='bad'"):
        publish.sync_collection(coll, [{"_id": "bad", "content_hash": "x"}])
    assert coll.count_documents({}) == 0


@pytest.mark.parametrize(
    "collection,query",
    [
        (USER_ANALYTICS, {"user_id": "U0007"}),
        (USER_ANALYTICS, {"country": "Chile"}),
        (USER_ANALYTICS, {"subscription_type": "Premium"}),
        (CONTENT_ANALYTICS, {"content_id": "S002"}),
    ],
)
def test_published_lookups_use_an_index_and_find_the_right_documents(
    core_url: str, mdb: Database, resolve, collection: str, query: dict
) -> None:
    _publish(core_url, mdb, resolve)
    assert compat.winning_plan_uses_index(mdb[collection].find(query).explain())
    ((field, value),) = query.items()
    expected = sorted(i for i, d in _all(mdb, collection).items() if d[field] == value)
    assert expected
    assert sorted(d["_id"] for d in mdb[collection].find(query)) == expected
