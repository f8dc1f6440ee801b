"""Shaping the analytics documents from the dbt models made for them (the ``sync_mongo_*`` models).

One ``user_analytics`` document per row of ``sync_mongo_users`` and one ``content_analytics``
document per row of ``sync_mongo_titles``; dbt gives every valid user and title a row (with zero
measures when it has no sessions), so document counts equal the core's row counts.

dbt computes every value (dbt_project/models/marts/sync/, declared by the ``mongodb_publish``
exposure). Python only reads rows and arranges them into documents: the scalar fields are the
columns of the parent row, each sub-document is the rows of a child model that share the
parent's id, keyed by ``breakdown_value`` (or by month), and ``genres`` is a child model in
``genre_position`` order. The relations are resolved from dbt's manifest
(streamlytics/dbt_relations.py) and read with plain ``select <columns> from <relation> order by``
so that nothing here depends on the warehouse engine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from mongo.schemas import CONTENT_ANALYTICS, USER_ANALYTICS
from streamlytics.dbt_relations import Relation, relation
from streamlytics.warehouse import stream_rows

Connection = Any
"""A DB-API connection of streamlytics.warehouse (psycopg2's, or Spark's)."""

# The dbt models each collection is shaped from (dbt_project/models/marts/sync/).
USER_MODELS = ("sync_mongo_users", "sync_mongo_user_breakdowns", "sync_mongo_user_activity")
TITLE_MODELS = ("sync_mongo_titles", "sync_mongo_title_breakdowns", "sync_mongo_title_genres")
# What an incremental publish reads besides (mongo/publish.py): the loaded batches behind the
# documents, and the documents each session batch touched.
BATCHES_MODEL = "sync_mongo_batches"
BATCH_DOCUMENTS_MODEL = "sync_mongo_batch_documents"
MODELS = USER_MODELS + TITLE_MODELS + (BATCHES_MODEL, BATCH_DOCUMENTS_MODEL)

Resolve = Callable[[str], Relation]
"""Model name -> the relation dbt built for it (default: :func:`streamlytics.dbt_relations.relation`)."""

_MEASURES = (
    "session_count",
    "total_watch_minutes",
    "sum_completion_percentage",
    "mean_completion_percentage",
)


def _as_datetime(value: dt.date | None) -> dt.datetime | None:
    # BSON has no date-only type: a day is stored as midnight UTC (naive, as pymongo returns it).
    return None if value is None else dt.datetime(value.year, value.month, value.day)


def _num(value: Any) -> Any:
    """A numeric that arrives as Decimal (an engine without doubles) becomes a float for BSON."""
    return float(value) if isinstance(value, Decimal) else value


def metrics(
    session_count: int, total_watch_minutes: int | None, sum_completion: Any
) -> dict[str, Any]:
    """The measures of one slice; ``mean_completion_percentage`` is None without sessions.

    The shape of every slice the sync models deliver (they compute the mean the same way: a
    double sum divided by the count); used by tests to write expected documents.
    """
    total = float(sum_completion or 0)
    return {
        "session_count": int(session_count),
        "total_watch_minutes": int(total_watch_minutes or 0),
        "sum_completion_percentage": total,
        "mean_completion_percentage": total / session_count if session_count else None,
    }


def content_hash(document: Mapping[str, Any]) -> str:
    """sha256 of a document's canonical JSON, ignoring ``content_hash`` itself.

    Keys are sorted so that the hash depends on content only, never on insertion order.
    """
    body = {k: v for k, v in document.items() if k != "content_hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=_json_default)
    return hashlib.sha256(text.encode()).hexdigest()


def _json_default(value: Any) -> str:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot hash a value of type {type(value).__name__}: {value!r}")


def with_hash(document: dict[str, Any]) -> dict[str, Any]:
    document["content_hash"] = content_hash(document)
    return document


# --- reading the sync models ----------------------------------------------------------------
#
# Documents are built as a stream: every model is read through streamlytics.warehouse's
# stream_rows (a server-side cursor on PostgreSQL, Arrow batches on Spark) ordered by the
# document id, and the child streams are merged into the parent stream by id, so memory holds
# one document's rows at a time. All streams come from one warehouse and are ordered by the same
# column, so they agree on the order whatever the collation; the merge never compares ids for
# order, only for equality (every child id is a parent id: dbt's relationships tests).


class OrphanRows(RuntimeError):
    """A child model holds rows whose id is not in its parent, or not in the parent's order."""


def _select(rel: Relation, columns: Sequence[str], order_by: Sequence[str], only: _Only) -> str:
    # Portable SQL (dbt's names are plain lower-case identifiers: no quoting, which differs
    # between engines).
    where = f" where {order_by[0]} in ({only.subquery})" if only else ""
    return f"select {', '.join(columns)} from {rel}{where} order by {', '.join(order_by)}"


class _Only:
    """The documents a set of session batches touched (sync_mongo_batch_documents), as a
    subquery of their ids; falsy when every document is wanted."""

    def __init__(
        self, resolve: Resolve, collection: str, batches: Sequence[str] | None = None
    ) -> None:
        self.params: list[str] = []
        self.subquery = ""
        if batches is not None:
            marks = ", ".join(["%s"] * len(batches)) or "null"
            self.subquery = (
                f"select document_id from {resolve(BATCH_DOCUMENTS_MODEL)} "
                f"where collection_name = %s and batch_id in ({marks})"
            )
            self.params = [collection, *batches]

    def __bool__(self) -> bool:
        return bool(self.subquery)


def _stream(conn: Connection, query: str, only: _Only) -> Iterator[tuple]:
    """The rows of ``query``, streamed (never the whole relation in memory)."""
    return stream_rows(conn, query, only.params if only else None)


def _children(
    conn: Connection,
    resolve: Resolve,
    model: str,
    columns: list[str],
    order: list[str],
    only: _Only,
) -> _Children:
    """A child model's rows (parent id first, in the parents' order) as a _Children."""
    return _Children(model, _stream(conn, _select(resolve(model), columns, order, only), only))


class _Children:
    """The rows of a child model, handed out per parent id in the parents' order."""

    def __init__(self, model: str, rows: Iterator[tuple]) -> None:
        self._model = model
        self._rows = rows
        self._head = next(rows, None)

    def pop(self, parent_id: str) -> list[tuple]:
        """The rows (without the id) of ``parent_id``; empty when it has none."""
        found = []
        while self._head is not None and self._head[0] == parent_id:
            found.append(self._head[1:])
            self._head = next(self._rows, None)
        return found

    def check_consumed(self) -> None:
        """Every row belonged to a parent; otherwise the stream lost its place (OrphanRows)."""
        if self._head is not None:
            raise OrphanRows(
                f"{self._model}: rows of id {self._head[0]!r} match no document, in the order of "
                "its parent model: rebuild the sync models (`streamlytics transform`); dbt's "
                "relationships tests name the orphans."
            )


def _slices(rows: list[tuple]) -> dict[str, dict[str, dict[str, Any]]]:
    """{breakdown: {value: measures}} from (breakdown, value, *measures) rows."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for breakdown, value, *measures in rows:
        out.setdefault(breakdown, {})[str(value)] = _measures(measures)
    return out


def _measures(values: Sequence[Any]) -> dict[str, Any]:
    # The contracts make these bigint and double: both readers return int and float as they are.
    # Spelled out rather than dict(zip(_MEASURES, ...)): called once per slice (840,000 times
    # at scale 10), where it is twice as fast.
    sessions, minutes, completion, mean = values
    return {
        "session_count": sessions,
        "total_watch_minutes": minutes,
        "sum_completion_percentage": completion,
        "mean_completion_percentage": mean,
    }


def _engagement(
    sessions: int, minutes: int, completion: Any, mean: Any, first: Any, last: Any
) -> dict[str, Any]:
    return {
        **_measures((sessions, minutes, completion, mean)),
        "first_watch_date": _as_datetime(first),
        "last_watch_date": _as_datetime(last),
    }


_USER_COLUMNS = (
    "user_id",
    "age",
    "age_band",
    "country",
    "subscription_type",
    "segment",
    "registration_date",
    "lifetime_watch_hours",
    *_MEASURES,
    "first_watch_date",
    "last_watch_date",
    "distinct_content_count",
    "active_month_count",
)


def iter_user_documents(
    conn: Connection, resolve: Resolve = relation, batches: Sequence[str] | None = None
) -> Iterator[dict[str, Any]]:
    """One document per row of sync_mongo_users, in the model's user_id order (shape: schemas.py).

    ``batches``: only the users whose sessions those session batches brought.
    """
    users_model, breakdowns_model, activity_model = USER_MODELS
    only = _Only(resolve, USER_ANALYTICS, batches)
    users = _stream(conn, _select(resolve(users_model), _USER_COLUMNS, ["user_id"], only), only)
    breakdowns = _children(
        conn,
        resolve,
        breakdowns_model,
        ["user_id", "breakdown", "breakdown_value", *_MEASURES],
        ["user_id", "breakdown", "breakdown_value"],
        only,
    )
    activity = _children(
        conn,
        resolve,
        activity_model,
        ["user_id", "activity_month", *_MEASURES],
        ["user_id", "activity_month"],
        only,
    )
    for row in users:
        (user_id, age, band, country, plan, segment, registered, lifetime_hours) = row[:8]
        sessions, minutes, completion, mean, first, last, titles, months = row[8:]
        slices = _slices(breakdowns.pop(user_id))
        yield with_hash(
            {
                "_id": user_id,
                "user_id": user_id,
                "age": age,
                "age_band": band,
                "country": country,
                "subscription_type": plan,
                "segment": segment,
                "registration_date": _as_datetime(registered),
                "lifetime_watch_hours": _num(lifetime_hours),
                **_engagement(sessions, minutes, completion, mean, first, last),
                "distinct_content_count": titles,
                "active_month_count": months,
                "by_device": slices.get("by_device", {}),
                "by_quality": slices.get("by_quality", {}),
                "monthly_activity": {
                    # YYYY-MM; formatting the fields is ~5x faster than strftime here.
                    f"{month.year:04d}-{month.month:02d}": _measures(measures)
                    for month, *measures in activity.pop(user_id)
                },
            }
        )
    breakdowns.check_consumed()
    activity.check_consumed()


_TITLE_COLUMNS = (
    "content_id",
    "content_type",
    "title",
    "rating",
    "production_budget",
    "views",
    "content_length_minutes",
    "release_year",
    "season_count",
    "episode_total",
    *_MEASURES,
    "first_watch_date",
    "last_watch_date",
    "viewer_count",
)


def iter_content_documents(
    conn: Connection, resolve: Resolve = relation, batches: Sequence[str] | None = None
) -> Iterator[dict[str, Any]]:
    """One document per row of sync_mongo_titles, in the model's content_id order (schemas.py).

    ``batches``: only the titles whose sessions those session batches brought.
    """
    titles_model, breakdowns_model, genres_model = TITLE_MODELS
    only = _Only(resolve, CONTENT_ANALYTICS, batches)
    titles = _stream(
        conn, _select(resolve(titles_model), _TITLE_COLUMNS, ["content_id"], only), only
    )
    breakdowns = _children(
        conn,
        resolve,
        breakdowns_model,
        ["content_id", "breakdown", "breakdown_value", *_MEASURES],
        ["content_id", "breakdown", "breakdown_value"],
        only,
    )
    genres = _children(
        conn,
        resolve,
        genres_model,
        ["content_id", "genre"],
        ["content_id", "genre_position", "genre"],
        only,
    )
    for row in titles:
        (content_id, content_type, title, rating, budget, views, length) = row[:7]
        release_year, seasons, episodes = row[7:10]
        sessions, minutes, completion, mean, first, last, viewers = row[10:]
        slices = _slices(breakdowns.pop(content_id))
        yield with_hash(
            {
                "_id": content_id,
                "content_id": content_id,
                "content_type": content_type,
                "title": title,
                "genres": [genre for (genre,) in genres.pop(content_id)],
                "rating": _num(rating),
                "production_budget": budget,
                "views": views,
                "content_length_minutes": length,
                "release_year": release_year,
                "season_count": seasons,
                "episode_total": episodes,
                **_engagement(sessions, minutes, completion, mean, first, last),
                "viewer_count": viewers,
                "by_country": slices.get("by_country", {}),
                "by_device": slices.get("by_device", {}),
            }
        )
    breakdowns.check_consumed()
    genres.check_consumed()


def user_documents(conn: Connection, resolve: Resolve = relation) -> list[dict[str, Any]]:
    return list(iter_user_documents(conn, resolve))


def content_documents(conn: Connection, resolve: Resolve = relation) -> list[dict[str, Any]]:
    return list(iter_content_documents(conn, resolve))


BUILDERS: dict[str, Callable[..., Iterator[dict[str, Any]]]] = {
    USER_ANALYTICS: iter_user_documents,
    CONTENT_ANALYTICS: iter_content_documents,
}
"""How each published collection's documents are built, as streams: ``build(conn, resolve)``
for every document, ``build(conn, resolve, batches)`` for those session batches touched."""


def build_all(conn: Connection, resolve: Resolve = relation) -> dict[str, list[dict[str, Any]]]:
    """Every published collection's documents, keyed by collection name (all in memory)."""
    return {name: list(build(conn, resolve)) for name, build in BUILDERS.items()}
