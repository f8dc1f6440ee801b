"""Indexes of each collection and why they exist; creating collections with their validators.

Every index serves a lookup the project makes (documented beside it). Unique indexes on the
business ids guard against duplicates even if a writer bypasses ``publish``.

There is deliberately no multikey index on ``content_analytics.genres``: nx-27017 answers
``find({"genres": g})`` with *no documents* once such an index exists (tests/test_mongo_compat.py
records it), and a genre question scans a few hundred titles anyway. On a real MongoDB one may
add it; nothing in the code depends on its absence.
"""

from __future__ import annotations

from dataclasses import dataclass

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import CollectionInvalid

from mongo.schemas import CONTENT_ANALYTICS, PIPELINE_RESULTS, USER_ANALYTICS, VALIDATORS


@dataclass(frozen=True)
class IndexSpec:
    keys: tuple[tuple[str, int], ...]
    unique: bool
    why: str

    @property
    def name(self) -> str:
        # Explicit, stable names on a real MongoDB (nx-27017 renames them; see compat.index_keys).
        return "_".join(f"{field}_{direction}" for field, direction in self.keys)


INDEXES: dict[str, tuple[IndexSpec, ...]] = {
    USER_ANALYTICS: (
        IndexSpec((("user_id", ASCENDING),), True, "one document per user; point lookups by id"),
        IndexSpec(
            (("country", ASCENDING),),
            False,
            "pipelines filtered to one country (engagement_by_demographics(country=...))",
        ),
        IndexSpec(
            (("subscription_type", ASCENDING),),
            False,
            "pipelines filtered to one plan (engagement, geographic_distribution)",
        ),
    ),
    CONTENT_ANALYTICS: (
        IndexSpec(
            (("content_id", ASCENDING),), True, "one document per title; point lookups by id"
        ),
        IndexSpec(
            (
                ("content_type", ASCENDING),
                ("session_count", DESCENDING),
                ("total_watch_minutes", DESCENDING),
                ("content_id", ASCENDING),
            ),
            False,
            "pipelines.top_titles: filter on the type and read in ranking order",
        ),
    ),
    PIPELINE_RESULTS: (),
}


def ensure_collection(db: Database, name: str) -> None:
    """Create ``name`` with its validator, or refresh the validator of an existing one."""
    validator = VALIDATORS[name]
    if name in db.list_collection_names():
        db.command(
            "collMod", name, validator=validator, validationLevel="strict", validationAction="error"
        )
        return
    try:
        db.create_collection(
            name, validator=validator, validationLevel="strict", validationAction="error"
        )
    except CollectionInvalid:  # created concurrently between the check and here
        db.command("collMod", name, validator=validator)


def ensure_indexes(db: Database, name: str) -> None:
    """Create the collection's indexes; a no-op for those that already exist."""
    for spec in INDEXES[name]:
        db[name].create_index(list(spec.keys), unique=spec.unique, name=spec.name)


def ensure_all(db: Database) -> None:
    """Every collection of the analytics store exists with its validator and indexes."""
    for name in VALIDATORS:
        ensure_collection(db, name)
        ensure_indexes(db, name)
