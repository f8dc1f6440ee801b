"""The four aggregation pipelines of the course, running them, and saving their results.

Each pipeline is standard MongoDB (>= 3 stages) over the published collections and steers
clear of nx-27017's wrong answers (docs/mongo.md): multi-field groups use a single-field or
``$concat`` key with ``$min`` for the parts (nx mis-groups on a document ``_id``), breakdown maps are
unrolled with ``$objectToArray`` + ``$unwind`` (never paths through stored arrays of
subdocuments), and ratios are computed after the group from additive sums. They are also
written so that nx-27017 compiles them to SQL instead of evaluating them document by document
in Python (the difference is 5-20x): ``$cond`` in its document form, ``$min`` rather than
``$first``, group keys without literals, ``_id`` left in the output (``run`` drops it).

Ratios are exact roll-ups: a mean completion is ``sum(completion) / sum(sessions)`` (session
weighted), never a mean of means. Every pipeline's answer is proven equal to the same question
in SQL by tests/test_mongo_pipelines.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymongo.database import Database

from mongo import documents, indexes, publish
from mongo.schemas import CONTENT_ANALYTICS, PIPELINE_RESULTS, USER_ANALYTICS

Pipeline = list[dict[str, Any]]

PLANS = ("Basic", "Standard", "Premium")


def _cond(test: dict, then: Any, otherwise: Any) -> dict:
    # The document form of $cond: nx-27017 compiles only this form to SQL (the array form
    # sends the whole pipeline to its per-document Python engine, ~20x slower).
    return {"$cond": {"if": test, "then": then, "else": otherwise}}


def _ratio(numerator: Any, denominator: str) -> dict:
    """numerator / denominator, null when the denominator is 0 (no division by zero)."""
    return _cond({"$gt": [denominator, 0]}, {"$divide": [numerator, denominator]}, None)


def _count_if(field: str, value: Any) -> dict:
    return {"$sum": _cond({"$eq": [field, value]}, 1, 0)}


def _viewing_sums(prefix: str = "$") -> dict[str, dict]:
    return {
        "session_count": {"$sum": f"{prefix}session_count"},
        "total_watch_minutes": {"$sum": f"{prefix}total_watch_minutes"},
        "sum_completion_percentage": {"$sum": f"{prefix}sum_completion_percentage"},
    }


_ACTIVE = {"$sum": _cond({"$gt": ["$session_count", 0]}, 1, 0)}
_WATCH_HOURS = {"$divide": ["$total_watch_minutes", 60]}
_MEAN_COMPLETION = _ratio("$sum_completion_percentage", "$session_count")


def _match(filters: Mapping[str, Any]) -> Pipeline:
    given = {k: v for k, v in filters.items() if v is not None}
    return [{"$match": given}] if given else []


def _keep(*fields: str, **computed: Any) -> dict:
    """A $project stage keeping ``fields`` (and computed ones).

    ``_id`` (the group key, repeated in named fields) stays in the pipeline's output and
    ``run`` drops it: nx-27017's SQL engine cannot run a pipeline that excludes ``_id``.
    """
    return {"$project": {**{f: 1 for f in fields}, **computed}}


def _part(field: str) -> dict:
    """A part of a composite group key, carried into the group's output. The part is a
    function of the key, so ``$min`` equals ``$first``; nx-27017 compiles ``$min`` to SQL but
    not ``$first``."""
    return {"$min": field}


def engagement_by_demographics(
    country: str | None = None, subscription_type: str | None = None
) -> Pipeline:
    """Per (age band, plan, country): users, activity, sessions, watch time, completion, 4K
    share and lifetime hours — the columns and grain of rpt_user_analytics."""
    return [
        *_match({"country": country, "subscription_type": subscription_type}),
        # ``segment`` is stored in each document ("age_band|plan|country"): grouping on one
        # stored field runs in SQL on nx-27017; a computed key would not.
        {
            "$group": {
                "_id": "$segment",
                "age_band": _part("$age_band"),
                "subscription_type": _part("$subscription_type"),
                "country": _part("$country"),
                "user_count": {"$sum": 1},
                "active_user_count": _ACTIVE,
                **_viewing_sums(),
                # A map key path, not a path through an array: safe on nx-27017. $ifNull: a
                # segment without any 4K session sums to 0, never to null.
                "sessions_4k": {"$sum": {"$ifNull": ["$by_quality.4K.session_count", 0]}},
                "lifetime_watch_hours": {"$sum": "$lifetime_watch_hours"},
            }
        },
        {
            "$addFields": {
                "watch_hours": _WATCH_HOURS,
                "sessions_per_active_user": _ratio("$session_count", "$active_user_count"),
                "watch_hours_per_active_user": _ratio(_WATCH_HOURS, "$active_user_count"),
                "mean_completion_percentage": _MEAN_COMPLETION,
                "share_of_sessions_4k": _ratio("$sessions_4k", "$session_count"),
                "mean_lifetime_watch_hours": {"$divide": ["$lifetime_watch_hours", "$user_count"]},
            }
        },
        _keep(
            "country",
            "subscription_type",
            "age_band",
            "user_count",
            "active_user_count",
            "session_count",
            "watch_hours",
            "sessions_per_active_user",
            "watch_hours_per_active_user",
            "mean_completion_percentage",
            "share_of_sessions_4k",
            "mean_lifetime_watch_hours",
        ),
        {"$sort": {"age_band": 1, "subscription_type": 1, "country": 1}},
    ]


def content_performance(genre: str | None = None, content_type: str | None = None) -> Pipeline:
    """Per genre (a title counts once in each of its genres): titles, sessions, watch time,
    completion, catalogue views, mean rating, budget per view. Genres are unwound, never
    grouped as an array."""
    return [
        *_match({"content_type": content_type}),
        {"$unwind": "$genres"},
        # After the unwind, not before: nx-27017 ignores a $match on an array element.
        *_match({"genres": genre}),
        {
            "$group": {
                "_id": "$genres",
                "title_count": {"$sum": 1},
                "movie_count": _count_if("$content_type", "movie"),
                "series_count": _count_if("$content_type", "series"),
                **_viewing_sums(),
                "views": {"$sum": "$views"},
                "rating_sum": {"$sum": "$rating"},
                "production_budget": {"$sum": "$production_budget"},
            }
        },
        {
            "$addFields": {
                "watch_hours": _WATCH_HOURS,
                "mean_completion_percentage": _MEAN_COMPLETION,
                "watch_minutes_per_title": {"$divide": ["$total_watch_minutes", "$title_count"]},
                "mean_rating": {"$divide": ["$rating_sum", "$title_count"]},
                "budget_per_view": _ratio("$production_budget", "$views"),
            }
        },
        _keep(
            "title_count",
            "movie_count",
            "series_count",
            "session_count",
            "total_watch_minutes",
            "watch_hours",
            "mean_completion_percentage",
            "watch_minutes_per_title",
            "views",
            "mean_rating",
            "production_budget",
            "budget_per_view",
            genre="$_id",
        ),
        {"$sort": {"total_watch_minutes": -1, "genre": 1}},
    ]


def geographic_distribution(subscription_type: str | None = None) -> Pipeline:
    """Per country: users and plan mix, activity, sessions, watch time, completion (the
    session-log columns of rpt_geographic, plus plan counts and per-user rates)."""
    return [
        *_match({"subscription_type": subscription_type}),
        {
            "$group": {
                "_id": "$country",
                "country": _part("$country"),
                "user_count": {"$sum": 1},
                "active_user_count": _ACTIVE,
                **{f"{p.lower()}_user_count": _count_if("$subscription_type", p) for p in PLANS},
                **_viewing_sums(),
                "lifetime_watch_hours": {"$sum": "$lifetime_watch_hours"},
            }
        },
        {
            "$addFields": {
                "premium_share": {"$divide": ["$premium_user_count", "$user_count"]},
                "watch_hours": _WATCH_HOURS,
                "sessions_per_active_user": _ratio("$session_count", "$active_user_count"),
                "watch_hours_per_active_user": _ratio(_WATCH_HOURS, "$active_user_count"),
                "mean_completion_percentage": _MEAN_COMPLETION,
                "mean_lifetime_watch_hours": {"$divide": ["$lifetime_watch_hours", "$user_count"]},
            }
        },
        _keep(
            "user_count",
            "active_user_count",
            *(f"{p.lower()}_user_count" for p in PLANS),
            "premium_share",
            "session_count",
            "total_watch_minutes",
            "watch_hours",
            "sessions_per_active_user",
            "watch_hours_per_active_user",
            "mean_completion_percentage",
            "mean_lifetime_watch_hours",
            "country",
        ),
        {"$sort": {"session_count": -1, "country": 1}},
    ]


def monthly_viewing_trends(since: str | None = None, until: str | None = None) -> Pipeline:
    """Per (activity month, plan): active users, sessions, watch time, completion — the viewing
    time series (summed over plans: rpt_seasonal_by_month). ``since`` / ``until`` are
    inclusive ``YYYY-MM`` bounds."""
    bounds = {k: v for k, v in (("$gte", since), ("$lte", until)) if v is not None}
    return [
        {
            "$project": {
                "_id": 1,
                "subscription_type": 1,
                "month": {"$objectToArray": "$monthly_activity"},
            }
        },
        {"$unwind": "$month"},
        *([{"$match": {"month.k": bounds}}] if bounds else []),
        {
            "$group": {
                # No separator needed: month keys are exactly 7 characters (the validator's
                # pattern), so "2024-03Basic" splits one way only. A literal separator would make
                # nx-27017 group in Python, one row at a time (~5x slower).
                "_id": {"$concat": ["$month.k", "$subscription_type"]},
                "activity_month": _part("$month.k"),
                "subscription_type": _part("$subscription_type"),
                "active_user_count": {"$sum": 1},
                **_viewing_sums("$month.v."),
            }
        },
        {
            "$addFields": {
                "watch_hours": _WATCH_HOURS,
                "sessions_per_active_user": {"$divide": ["$session_count", "$active_user_count"]},
                "mean_completion_percentage": _MEAN_COMPLETION,
            }
        },
        _keep(
            "activity_month",
            "subscription_type",
            "active_user_count",
            "session_count",
            "total_watch_minutes",
            "watch_hours",
            "sessions_per_active_user",
            "mean_completion_percentage",
        ),
        {"$sort": {"activity_month": 1, "subscription_type": 1}},
    ]


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    collection: str
    question: str
    build: Callable[..., Pipeline]


PIPELINES: dict[str, PipelineSpec] = {
    spec.name: spec
    for spec in (
        PipelineSpec(
            "engagement_by_demographics",
            USER_ANALYTICS,
            "How engaged are users by age band x plan x country?",
            engagement_by_demographics,
        ),
        PipelineSpec(
            "content_performance",
            CONTENT_ANALYTICS,
            "How does each genre perform (titles unwound into each of their genres)?",
            content_performance,
        ),
        PipelineSpec(
            "geographic_distribution",
            USER_ANALYTICS,
            "How are users, plans and viewing distributed across countries?",
            geographic_distribution,
        ),
        PipelineSpec(
            "monthly_viewing_trends",
            USER_ANALYTICS,
            "How does viewing evolve month by month, per plan?",
            monthly_viewing_trends,
        ),
    )
}


def _without_id(rows: Any) -> list[dict[str, Any]]:
    """The rows without ``_id``: each pipeline repeats its group key in named fields."""
    return [{k: v for k, v in row.items() if k != "_id"} for row in rows]


def run(db: Database, name: str, **filters: Any) -> list[dict[str, Any]]:
    """Run one pipeline by name (optional filters as its builder accepts) and return its rows."""
    spec = PIPELINES[name]
    return _without_id(db[spec.collection].aggregate(spec.build(**filters), allowDiskUse=True))


class PipelineResults(dict[str, list[dict[str, Any]]]):
    """Rows by pipeline name, and the fingerprint of the documents they were computed from."""

    documents_fingerprint: str | None = None
    reused: bool = False
    """True when the rows are the saved ones (no document changed since they were computed)."""


def run_all(db: Database) -> PipelineResults:
    """Every pipeline, unfiltered, in the order of PIPELINES.

    When ``publish_state`` records that the saved results were computed from exactly the
    documents the source collections hold now (same ids and content hashes) by this module's
    pipelines, those saved rows are returned and no pipeline runs: the pipelines read every
    document (6 s of server CPU for 50,000 users on nx-27017) while the check reads only the
    ids and hashes (about a tenth of that).
    """
    fingerprint = documents_fingerprint(db)
    saved = _saved_if_current(db, fingerprint)
    results = PipelineResults(saved if saved is not None else ((n, run(db, n)) for n in PIPELINES))
    results.documents_fingerprint = fingerprint
    results.reused = saved is not None
    return results


# The publish_state document that records what the saved pipeline results were computed from.
_RESULTS_STATE_ID = "pipeline_results"


def pipelines_version() -> str:
    """sha256 of this module's source: other pipeline code means other results."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def documents_fingerprint(db: Database) -> str:
    """sha256 over the (_id, content_hash) pairs of every collection a pipeline reads.

    ``content_hash`` is each document's identity (mongo/documents.py): equal fingerprints mean
    the pipelines would read equal documents. Read with a ``$project`` (nx-27017 answers it in
    SQL) and sorted here, so the server's order does not matter.
    """
    digest = hashlib.sha256()
    for name in sorted({spec.collection for spec in PIPELINES.values()}):
        rows = db[name].aggregate([{"$project": {"_id": 1, "content_hash": 1}}], batchSize=10_000)
        pairs = sorted((str(d["_id"]), str(d.get("content_hash"))) for d in rows)
        digest.update(json.dumps([name, pairs], separators=(",", ":")).encode())
    return digest.hexdigest()


def _saved_if_current(db: Database, fingerprint: str) -> dict[str, list[dict[str, Any]]] | None:
    state = db[publish.STATE_COLLECTION].find_one({"_id": _RESULTS_STATE_ID})
    if not state or state.get("documents_fingerprint") != fingerprint:
        return None
    if state.get("pipelines_version") != pipelines_version():
        return None
    saved = saved_results(db)
    return saved if list(saved) == list(PIPELINES) else None


def top_titles(db: Database, content_type: str, limit: int = 10) -> list[dict[str, Any]]:
    """The ``limit`` most watched titles of one type, ranked like rpt_content_performance
    ('All genres'): by sessions, then watch minutes, then content_id. The filter and the sort
    follow the (content_type, session_count, total_watch_minutes, content_id) index."""
    rows = _without_id(
        db[CONTENT_ANALYTICS].aggregate(
            [
                {"$match": {"content_type": content_type}},
                {"$sort": {"session_count": -1, "total_watch_minutes": -1, "content_id": 1}},
                {"$limit": limit},
                _keep(
                    "content_type",
                    "content_id",
                    "title",
                    "session_count",
                    "viewer_count",
                    "mean_completion_percentage",
                    "rating",
                    "views",
                    watch_hours=_WATCH_HOURS,
                ),
            ]
        )
    )
    return [{"performance_rank": rank, **row} for rank, row in enumerate(rows, start=1)]


def result_documents(results: Mapping[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """``pipeline_results`` documents for the given results (shape: schemas.py)."""
    docs = []
    for name, rows in results.items():
        spec = PIPELINES[name]
        docs.append(
            documents.with_hash(
                {
                    "_id": name,
                    "source_collection": spec.collection,
                    "description": spec.question,
                    "stage_count": len(spec.build()),
                    "row_count": len(rows),
                    "rows": rows,
                }
            )
        )
    return docs


def save_results(db: Database, results: Mapping[str, list[dict[str, Any]]]) -> publish.SyncCounts:
    """Store the results in ``pipeline_results`` (one document per pipeline), idempotently."""
    indexes.ensure_collection(db, PIPELINE_RESULTS)
    if not getattr(results, "reused", False):
        # Until the new results are saved, no record may call the stored ones current.
        db[publish.STATE_COLLECTION].delete_one({"_id": _RESULTS_STATE_ID})
    counts = publish.sync_collection(db[PIPELINE_RESULTS], result_documents(results))
    _record_results_state(db, results)
    return counts


def _record_results_state(db: Database, results: Mapping[str, list[dict[str, Any]]]) -> None:
    """Record which documents the saved results came from, once they are saved. Only
    run_all's results (every pipeline, unfiltered, with their fingerprint) qualify."""
    state = db[publish.STATE_COLLECTION]
    fingerprint = getattr(results, "documents_fingerprint", None)
    if fingerprint is None or list(results) != list(PIPELINES):
        return
    if getattr(results, "reused", False):
        return  # the record already says so
    state.replace_one(
        {"_id": _RESULTS_STATE_ID},
        {
            "_id": _RESULTS_STATE_ID,
            "documents_fingerprint": fingerprint,
            "pipelines_version": pipelines_version(),
        },
        upsert=True,
    )


def saved_results(db: Database) -> dict[str, list[dict[str, Any]]]:
    """The saved rows of every pipeline, by name: what the report shows."""
    found = {d["_id"]: d["rows"] for d in db[PIPELINE_RESULTS].find()}
    return {name: found[name] for name in PIPELINES if name in found}
