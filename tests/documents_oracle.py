"""Test oracle: the analytics documents computed straight from the Postgres core, in SQL.

This is how mongo/documents.py built the documents before dbt's sync models existed (every
measure a ``group by`` over core.viewing_sessions, Postgres-only SQL). It stays here, outside
the package, as an independent computation: tests/test_mongo_dbt.py asserts that every
published document, shaped from the sync models, equals the one built here, content hash
included.

Original description:

One ``user_analytics`` document per row of ``core.users`` and one ``content_analytics`` document
per row of ``core.content``: a user or title without sessions still gets a document (with zero
measures), so document counts always equal the core's row counts.

The documents are built from the core rather than the marts because they need session-level
breakdowns (per device, quality, month, country) that each mart aggregates away; every measure
is a plain ``group by`` over ``core.viewing_sessions``. Aggregation happens in Postgres; Python
only arranges rows into documents.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection
from sql_questions import age_band

from mongo.documents import metrics, with_hash
from mongo.schemas import CONTENT_ANALYTICS, USER_ANALYTICS

DEFAULT_SCHEMA = "core"


def _as_datetime(value: dt.date | None) -> dt.datetime | None:
    # BSON has no date-only type: a day is stored as midnight UTC (naive, as pymongo returns it).
    return None if value is None else dt.datetime(value.year, value.month, value.day)


def _num(value: Any) -> Any:
    """Postgres numerics arrive as Decimal; BSON has no lossless place for them here."""
    return float(value) if isinstance(value, Decimal) else value


# --- reading Postgres ---------------------------------------------------------------------
#
# Documents are built as a stream: every query is read through a server-side cursor, ordered by
# the entity id, and the streams are merged by id, so memory holds one entity's rows at a time
# rather than every breakdown of every user (546 MB of client RSS at scale 10 before). All
# orderings use the "C" collation, whose byte order is Python's string order, so the merge's
# comparisons agree with PostgreSQL's sort whatever the database's locale.

_FETCH = 10_000


def _stream(conn: PgConnection, query: sql.Composable) -> Iterator[tuple]:
    """The rows of ``query``, fetched in batches through a named (server-side) cursor."""
    with conn.cursor(name=f"mongo_documents_{next(_CURSOR_IDS)}") as cur:
        cur.itersize = _FETCH
        cur.execute(query)
        yield from cur


_CURSOR_IDS = itertools.count()


class _ById:
    """A stream of (entity id, value) in ascending id order, read alongside another stream."""

    def __init__(self, pairs: Iterator[tuple[str, Any]]) -> None:
        # A null id (not possible in the dbt core, whose ids are not null) belongs to no document.
        self._pairs = (pair for pair in pairs if pair[0] is not None)
        self._head = next(self._pairs, None)

    def pop(self, entity_id: str, default: Any) -> Any:
        """The value of ``entity_id`` (``default`` if it has none), skipping smaller ids."""
        while self._head is not None and self._head[0] < entity_id:
            self._head = next(self._pairs, None)
        if self._head is not None and self._head[0] == entity_id:
            value = self._head[1]
            self._head = next(self._pairs, None)
            return value
        return default


def _table(schema: str, name: str) -> sql.Identifier:
    return sql.Identifier(schema, name)


def _breakdown(
    conn: PgConnection, schema: str, entity: str, key: str, join_users: bool = False
) -> _ById:
    """(entity id, {key value: metrics}) from the sessions ``s``, grouped by (entity, key).

    ``entity`` and ``key`` are trusted SQL expressions over the sessions ``s`` (and the users
    ``u`` when ``join_users``), e.g. ``s.device_type`` or ``to_char(s.watch_date, 'YYYY-MM')``.
    """
    query = sql.SQL(
        "select {entity}, {key} as slice, count(*), sum(s.watch_minutes), "
        "sum(s.completion_percentage) from {sessions} s {join} group by 1, 2 "
        'order by {entity} collate "C", 2'
    ).format(
        entity=sql.SQL(entity),
        key=sql.SQL(key),
        sessions=_table(schema, "viewing_sessions"),
        join=sql.SQL("join {users} u on u.user_id = s.user_id").format(
            users=_table(schema, "users")
        )
        if join_users
        else sql.SQL(""),
    )

    def grouped() -> Iterator[tuple[str, dict[str, dict]]]:
        current, slices = None, {}
        for entity_id, slice_key, n, minutes, completion in _stream(conn, query):
            if entity_id != current:
                if current is not None:
                    yield current, slices
                current, slices = entity_id, {}
            slices[str(slice_key)] = metrics(n, minutes, completion)
        if current is not None:
            yield current, slices

    return _ById(grouped())


def _totals(conn: PgConnection, schema: str, entity: str, distinct: str) -> _ById:
    """(entity id, (sessions, minutes, completion sum, distinct count, first, last)).

    A user's active months are not counted here: they are the keys of its monthly breakdown,
    and a second ``count(distinct ...)`` doubled this query's sorting (1.7 s -> 3.3 s at scale 10).
    """
    query = sql.SQL(
        "select {entity}, count(*), sum(s.watch_minutes), sum(s.completion_percentage), "
        "count(distinct {distinct}), min(s.watch_date), max(s.watch_date) "
        'from {sessions} s group by 1 order by {entity} collate "C"'
    ).format(
        entity=sql.SQL(entity),
        distinct=sql.SQL(distinct),
        sessions=_table(schema, "viewing_sessions"),
    )
    return _ById((row[0], row[1:]) for row in _stream(conn, query))


def _engagement(total: tuple | None) -> dict[str, Any]:
    sessions, minutes, completion, _, first, last = total or (0, 0, 0, 0, None, None)
    return {
        **metrics(sessions, minutes, completion),
        "first_watch_date": _as_datetime(first),
        "last_watch_date": _as_datetime(last),
    }


def iter_user_documents(
    conn: PgConnection, schema: str = DEFAULT_SCHEMA
) -> Iterator[dict[str, Any]]:
    """One document per user of ``<schema>.users``, in user_id order (shape: schemas.py)."""
    users = _stream(
        conn,
        sql.SQL(
            "select user_id, age, country, subscription_type, registration_date, lifetime_watch_hours "
            'from {users} order by user_id collate "C"'
        ).format(users=_table(schema, "users")),
    )
    totals = _totals(conn, schema, "s.user_id", "s.content_id")
    by_device = _breakdown(conn, schema, "s.user_id", "s.device_type")
    by_quality = _breakdown(conn, schema, "s.user_id", "s.quality_level")
    monthly = _breakdown(conn, schema, "s.user_id", "to_char(s.watch_date, 'YYYY-MM')")
    for user_id, age, country, plan, registered, lifetime_hours in users:
        total = totals.pop(user_id, None)
        months = monthly.pop(user_id, {})
        band = age_band(age)
        yield with_hash(
            {
                "_id": user_id,
                "user_id": user_id,
                "age": age,
                "age_band": band,
                "country": country,
                "subscription_type": plan,
                "segment": f"{band}|{plan}|{country}",
                "registration_date": _as_datetime(registered),
                "lifetime_watch_hours": _num(lifetime_hours),
                **_engagement(total),
                "distinct_content_count": total[3] if total else 0,
                "active_month_count": len(months),
                "by_device": by_device.pop(user_id, {}),
                "by_quality": by_quality.pop(user_id, {}),
                "monthly_activity": months,
            }
        )


def _genres(conn: PgConnection, schema: str) -> _ById:
    query = sql.SQL(
        'select content_id, genre from {cg} order by content_id collate "C", genre_position, genre'
    ).format(cg=_table(schema, "content_genres"))

    def grouped() -> Iterator[tuple[str, list[str]]]:
        current, genres = None, []
        for content_id, genre in _stream(conn, query):
            if content_id != current:
                if current is not None:
                    yield current, genres
                current, genres = content_id, []
            genres.append(genre)
        if current is not None:
            yield current, genres

    return _ById(grouped())


def iter_content_documents(
    conn: PgConnection, schema: str = DEFAULT_SCHEMA
) -> Iterator[dict[str, Any]]:
    """One document per title of ``<schema>.content``, in content_id order (shape: schemas.py)."""
    titles = _stream(
        conn,
        sql.SQL(
            "select c.content_id, c.content_type, c.title, c.rating, c.production_budget, c.views, "
            "c.content_length_minutes, m.release_year, sd.season_count, sd.episode_total "
            "from {content} c "
            "left join {movies} m on m.content_id = c.content_id "
            "left join {series} sd on sd.content_id = c.content_id "
            'order by c.content_id collate "C"'
        ).format(
            content=_table(schema, "content"),
            movies=_table(schema, "movie_details"),
            series=_table(schema, "series_details"),
        ),
    )
    genres = _genres(conn, schema)
    totals = _totals(conn, schema, "s.content_id", "s.user_id")
    by_country = _breakdown(conn, schema, "s.content_id", "u.country", join_users=True)
    by_device = _breakdown(conn, schema, "s.content_id", "s.device_type")
    for (
        content_id,
        content_type,
        title,
        rating,
        budget,
        views,
        length,
        release_year,
        seasons,
        episodes,
    ) in titles:
        total = totals.pop(content_id, None)
        yield with_hash(
            {
                "_id": content_id,
                "content_id": content_id,
                "content_type": content_type,
                "title": title,
                "genres": genres.pop(content_id, []),
                "rating": _num(rating),
                "production_budget": int(budget),
                "views": int(views),
                "content_length_minutes": length,
                "release_year": release_year,
                "season_count": seasons,
                "episode_total": None if episodes is None else int(episodes),
                **_engagement(total),
                "viewer_count": total[3] if total else 0,
                "by_country": by_country.pop(content_id, {}),
                "by_device": by_device.pop(content_id, {}),
            }
        )


def user_documents(conn: PgConnection, schema: str = DEFAULT_SCHEMA) -> list[dict[str, Any]]:
    return list(iter_user_documents(conn, schema))


def content_documents(conn: PgConnection, schema: str = DEFAULT_SCHEMA) -> list[dict[str, Any]]:
    return list(iter_content_documents(conn, schema))


BUILDERS: dict[str, Callable[[PgConnection, str], Iterator[dict[str, Any]]]] = {
    USER_ANALYTICS: iter_user_documents,
    CONTENT_ANALYTICS: iter_content_documents,
}
"""How each published collection's documents are built, as streams."""


def build_all(conn: PgConnection, schema: str = DEFAULT_SCHEMA) -> dict[str, list[dict[str, Any]]]:
    """Every published collection's documents, keyed by collection name (all in memory)."""
    return {name: list(build(conn, schema)) for name, build in BUILDERS.items()}
