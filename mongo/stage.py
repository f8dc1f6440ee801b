"""The publish stage as the pipeline and the CLI run it: publish the documents, then run the
four aggregation pipelines and save their results for the report.

Failures surface as PublishError with a sentence saying what to do (no stack trace for the
expected ones: sync models not built, a server unreachable, a document breaking its schema).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pymongo
from pymongo.errors import PyMongoError

from mongo import documents, pipelines, publish, schemas
from streamlytics import warehouse
from streamlytics.config import Settings
from streamlytics.dbt_relations import RelationError


class PublishError(RuntimeError):
    """The publish stage could not run; the message says why and what to do."""


@dataclass
class PublishOutcome:
    collections: dict[str, publish.SyncCounts]
    """Sync counts per published collection (user_analytics, content_analytics)."""
    pipeline_rows: dict[str, int] = field(default_factory=dict)
    """Rows returned by each aggregation pipeline (empty when pipelines were not run)."""
    results_saved: publish.SyncCounts | None = None
    """Sync counts of the pipeline_results collection."""

    def summary(self) -> dict[str, Any]:
        """JSON-friendly summary (for run_summary.json and the CLI)."""
        return {
            "collections": {name: c.as_dict() for name, c in self.collections.items()},
            "pipeline_rows": dict(self.pipeline_rows),
            "pipeline_results": self.results_saved.as_dict() if self.results_saved else None,
        }


def run_publish_stage(
    database_url: str,
    mongodb_uri: str,
    mongodb_db: str,
    *,
    run_pipelines: bool = True,
    cfg: Settings | None = None,
    full: bool = False,
) -> PublishOutcome:
    """Publish every collection from the dbt sync models of the warehouse ``cfg`` names
    (PostgreSQL at ``database_url``, or Spark); then run and save the pipelines.

    Incremental unless ``full``: after new session batches only, only the documents they
    touched are rebuilt (mongo/publish.py); the collections end the same either way.
    """
    try:
        outcome = PublishOutcome(
            publish.publish(database_url, mongodb_uri, mongodb_db, cfg=cfg, incremental=not full)
        )
        if run_pipelines:
            with pymongo.MongoClient(mongodb_uri) as client:
                db = client[mongodb_db]
                results = pipelines.run_all(db)
                outcome.pipeline_rows = {name: len(rows) for name, rows in results.items()}
                outcome.results_saved = pipelines.save_results(db, results)
    except RelationError as exc:
        raise PublishError(str(exc)) from exc
    except warehouse.reader_errors() as exc:
        if warehouse.undefined_relation(exc):
            first = str(exc).strip().splitlines()[0]
            raise PublishError(
                f"the dbt sync models are not built in this warehouse ({first}); "
                "build them first with `streamlytics transform` (dbt)"
            ) from exc
        raise PublishError(f"reading the dbt sync models failed: {exc}".strip()) from exc
    except (schemas.DocumentInvalid, publish.DuplicateDocumentId, documents.OrphanRows) as exc:
        raise PublishError(f"nothing was written to that collection: {exc}") from exc
    except PyMongoError as exc:
        raise PublishError(f"MongoDB at {_redact(mongodb_uri)} failed: {exc}") from exc
    return outcome


def run_pipelines(
    mongodb_uri: str, mongodb_db: str, name: str | None = None
) -> dict[str, list[dict]]:
    """Run one pipeline (or all four) over what was published; rows by pipeline name."""
    names = [name] if name else list(pipelines.PIPELINES)
    unknown = [n for n in names if n not in pipelines.PIPELINES]
    if unknown:
        raise PublishError(
            f"unknown pipeline {unknown[0]!r}; choose one of {', '.join(pipelines.PIPELINES)}"
        )
    try:
        with pymongo.MongoClient(mongodb_uri) as client:
            db = client[mongodb_db]
            empty = [
                s.collection
                for s in pipelines.PIPELINES.values()
                if s.name in names and db[s.collection].estimated_document_count() == 0
            ]
            if empty:
                raise PublishError(
                    f"collection {empty[0]!r} of database {mongodb_db!r} is empty: "
                    f"run `streamlytics publish` first"
                )
            return {n: pipelines.run(db, n) for n in names}
    except PyMongoError as exc:
        raise PublishError(f"MongoDB at {_redact(mongodb_uri)} failed: {exc}") from exc


def _redact(uri: str) -> str:
    from streamlytics.services import _redact as redact

    return redact(uri)
