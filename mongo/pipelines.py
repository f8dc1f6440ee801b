"""The four aggregation pipelines of the course, running them, and saving their results.

Each pipeline is standard MongoDB (>= 3 stages) over the published collections and steers
clear of nx-27017's wrong answers (docs/mongo.md): multi-field groups use a ``$concat`` key
with ``$first`` for the parts (nx mis-groups on a document ``_id``), breakdown maps are
unrolled with ``$objectToArray`` + ``$unwind`` (never paths through stored arrays of
subdocuments), and ratios are computed after the group from additive sums.

Ratios are exact roll-ups: a mean completion is ``sum(completion) / sum(sessions)`` (session
weighted), never a mean of means. Every pipeline's answer is proven equal to the same question
in SQL by tests/test_mongo_pipelines.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pymongo.database import Database

from mongo import documents, indexes, publish
from mongo.schemas import CONTENT_ANALYTICS, PIPELINE_RESULTS, USER_ANALYTICS

Pipeline = list[dict[str, Any]]

PLANS = ("Basic", "Standard", "Premium")


def _ratio(numerator: Any, denominator: str) -> dict:
    """numerator / denominator, null when the denominator is 0 (no division by zero)."""
    return {"$cond": [{"$gt": [denominator, 0]}, {"$divide": [numerator, denominator]}, None]}


def _count_if(field: str, value: Any) -> dict:
    return {"$sum": {"$cond": [{"$eq": [field, value]}, 1, 0]}}


def _viewing_sums(prefix: str = "$") -> dict[str, dict]:
    return {
        "sessions": {"$sum": f"{prefix}sessions"},
        "watch_minutes": {"$sum": f"{prefix}watch_minutes"},
        "completion_pct_sum": {"$sum": f"{prefix}completion_pct_sum"},
    }


def _match(filters: Mapping[str, Any]) -> Pipeline:
    given = {k: v for k, v in filters.items() if v is not None}
    return [{"$match": given}] if given else []


def engagement_by_demographics(country: str | None = None, plan: str | None = None) -> Pipeline:
    """Per (age band, plan, country): users, activity, sessions, watch time, completion."""
    return [
        *_match({"country": country, "plan": plan}),
        {"$addFields": {"segment": {"$concat": ["$age_band", "|", "$plan", "|", "$country"]}}},
        {"$group": {
            "_id": "$segment",
            "age_band": {"$first": "$age_band"},
            "plan": {"$first": "$plan"},
            "country": {"$first": "$country"},
            "users": {"$sum": 1},
            "active_users": {"$sum": {"$cond": [{"$gt": ["$sessions", 0]}, 1, 0]}},
            **_viewing_sums(),
            "lifetime_watch_hours": {"$sum": "$lifetime_watch_hours"},
        }},
        {"$addFields": {
            "sessions_per_user": {"$divide": ["$sessions", "$users"]},
            "watch_hours_per_user": {"$divide": ["$watch_minutes", {"$multiply": ["$users", 60]}]},
            "mean_completion_pct": _ratio("$completion_pct_sum", "$sessions"),
            "avg_lifetime_watch_hours": {"$divide": ["$lifetime_watch_hours", "$users"]},
        }},
        {"$project": {
            "_id": 0, "age_band": 1, "plan": 1, "country": 1, "users": 1, "active_users": 1,
            "sessions": 1, "watch_minutes": 1, "sessions_per_user": 1, "watch_hours_per_user": 1,
            "mean_completion_pct": 1, "avg_lifetime_watch_hours": 1,
        }},
        {"$sort": {"age_band": 1, "plan": 1, "country": 1}},
    ]


def content_performance(genre: str | None = None, content_type: str | None = None) -> Pipeline:
    """Per genre (a title counts in each of its genres): titles, sessions, minutes, completion,
    catalogue views, mean rating, budget per catalogue view. Genres are unwound, never grouped
    as an array."""
    return [
        # Filtering before the unwind lets the multikey genres index pick the titles.
        *_match({"genres": genre, "content_type": content_type}),
        {"$unwind": "$genres"},
        *_match({"genres": genre}),
        {"$group": {
            "_id": "$genres",
            "titles": {"$sum": 1},
            "movies": _count_if("$content_type", "movie"),
            "series": _count_if("$content_type", "series"),
            **_viewing_sums(),
            "views": {"$sum": "$views"},
            "rating_sum": {"$sum": "$rating"},
            "production_budget": {"$sum": "$production_budget"},
        }},
        {"$addFields": {
            "mean_completion_pct": _ratio("$completion_pct_sum", "$sessions"),
            "watch_minutes_per_title": {"$divide": ["$watch_minutes", "$titles"]},
            "mean_rating": {"$divide": ["$rating_sum", "$titles"]},
            "budget_per_view": _ratio("$production_budget", "$views"),
        }},
        {"$project": {
            "_id": 0, "genre": "$_id", "titles": 1, "movies": 1, "series": 1, "sessions": 1,
            "watch_minutes": 1, "mean_completion_pct": 1, "watch_minutes_per_title": 1, "views": 1,
            "mean_rating": 1, "production_budget": 1, "budget_per_view": 1,
        }},
        {"$sort": {"watch_minutes": -1, "genre": 1}},
    ]


def geographic_distribution(plan: str | None = None) -> Pipeline:
    """Per country: users and plan mix, activity, sessions, watch time, completion."""
    return [
        *_match({"plan": plan}),
        {"$group": {
            "_id": "$country",
            "users": {"$sum": 1},
            "active_users": {"$sum": {"$cond": [{"$gt": ["$sessions", 0]}, 1, 0]}},
            **{f"{p.lower()}_users": _count_if("$plan", p) for p in PLANS},
            **_viewing_sums(),
            "lifetime_watch_hours": {"$sum": "$lifetime_watch_hours"},
        }},
        {"$addFields": {
            "premium_share": {"$divide": ["$premium_users", "$users"]},
            "sessions_per_user": {"$divide": ["$sessions", "$users"]},
            "watch_hours": {"$divide": ["$watch_minutes", 60]},
            "watch_hours_per_user": {"$divide": ["$watch_minutes", {"$multiply": ["$users", 60]}]},
            "mean_completion_pct": _ratio("$completion_pct_sum", "$sessions"),
            "avg_lifetime_watch_hours": {"$divide": ["$lifetime_watch_hours", "$users"]},
        }},
        {"$project": {
            "_id": 0, "country": "$_id", "users": 1, "active_users": 1,
            **{f"{p.lower()}_users": 1 for p in PLANS}, "premium_share": 1, "sessions": 1,
            "watch_minutes": 1, "watch_hours": 1, "sessions_per_user": 1, "watch_hours_per_user": 1,
            "mean_completion_pct": 1, "avg_lifetime_watch_hours": 1,
        }},
        {"$sort": {"sessions": -1, "country": 1}},
    ]


def monthly_viewing_trends(since: str | None = None, until: str | None = None) -> Pipeline:
    """Per (month, plan): active users, sessions, watch time, completion — the viewing time
    series. ``since`` / ``until`` are inclusive ``YYYY-MM`` bounds."""
    bounds = {k: v for k, v in (("$gte", since), ("$lte", until)) if v is not None}
    return [
        {"$project": {"plan": 1, "month": {"$objectToArray": "$monthly_activity"}}},
        {"$unwind": "$month"},
        *([{"$match": {"month.k": bounds}}] if bounds else []),
        {"$group": {
            "_id": {"$concat": ["$month.k", "|", "$plan"]},
            "month": {"$first": "$month.k"},
            "plan": {"$first": "$plan"},
            "active_users": {"$sum": 1},
            **_viewing_sums("$month.v."),
        }},
        {"$addFields": {
            "watch_hours": {"$divide": ["$watch_minutes", 60]},
            "sessions_per_active_user": {"$divide": ["$sessions", "$active_users"]},
            "mean_completion_pct": _ratio("$completion_pct_sum", "$sessions"),
        }},
        {"$project": {
            "_id": 0, "month": 1, "plan": 1, "active_users": 1, "sessions": 1, "watch_minutes": 1,
            "watch_hours": 1, "sessions_per_active_user": 1, "mean_completion_pct": 1,
        }},
        {"$sort": {"month": 1, "plan": 1}},
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
        PipelineSpec("engagement_by_demographics", USER_ANALYTICS,
                     "How engaged are users by age band x plan x country?", engagement_by_demographics),
        PipelineSpec("content_performance", CONTENT_ANALYTICS,
                     "How does each genre perform (titles unwound into each of their genres)?",
                     content_performance),
        PipelineSpec("geographic_distribution", USER_ANALYTICS,
                     "How are users, plans and viewing distributed across countries?",
                     geographic_distribution),
        PipelineSpec("monthly_viewing_trends", USER_ANALYTICS,
                     "How does viewing evolve month by month, per plan?", monthly_viewing_trends),
    )
}


def run(db: Database, name: str, **filters: Any) -> list[dict[str, Any]]:
    """Run one pipeline by name (optional filters as its builder accepts) and return its rows."""
    spec = PIPELINES[name]
    return list(db[spec.collection].aggregate(spec.build(**filters), allowDiskUse=True))


def run_all(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every pipeline, unfiltered, in the order of PIPELINES."""
    return {name: run(db, name) for name in PIPELINES}


def result_documents(results: Mapping[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """``pipeline_results`` documents for the given results (shape: schemas.py)."""
    docs = []
    for name, rows in results.items():
        spec = PIPELINES[name]
        docs.append(documents.with_hash({
            "_id": name,
            "source_collection": spec.collection,
            "description": spec.question,
            "stage_count": len(spec.build()),
            "row_count": len(rows),
            "rows": rows,
        }))
    return docs


def save_results(db: Database, results: Mapping[str, list[dict[str, Any]]]) -> publish.SyncCounts:
    """Store the results in ``pipeline_results`` (one document per pipeline), idempotently."""
    indexes.ensure_collection(db, PIPELINE_RESULTS)
    return publish.sync_collection(db[PIPELINE_RESULTS], result_documents(results))


def saved_results(db: Database) -> dict[str, list[dict[str, Any]]]:
    """The saved rows of every pipeline, by name: what the report shows."""
    found = {d["_id"]: d["rows"] for d in db[PIPELINE_RESULTS].find()}
    return {name: found[name] for name in PIPELINES if name in found}
