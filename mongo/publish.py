"""Idempotent publication: make a collection hold exactly a given set of documents.

Every document carries a ``content_hash``. Syncing reads the stored (_id, content_hash) pairs
once, then sends only what differs:

- an id not stored yet        -> ReplaceOne(upsert=True)            counted as *inserted*
- an id stored with a new hash -> ReplaceOne(upsert=True)            counted as *updated*
- an id stored, same hash      -> nothing sent                       counted as *unchanged*
- a stored id not given        -> DeleteMany({_id: {$in: [...]}})   counted as *removed*

So publishing the same data twice sends nothing the second time (0 inserted / updated /
removed): its cost is building the documents and reading the stored pairs. Writes go in ordered=False
chunks of ``compat.BULK_CHUNK``: nx-27017 serves one request at a time and every request must finish well inside the client's timeout. Counts are
the server's own (upserted / matched / deleted), not the plan's.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import bson
import pymongo
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import DeleteMany, ReplaceOne
from pymongo.collection import Collection

from mongo import compat, documents, indexes, schemas
from streamlytics import warehouse
from streamlytics.config import Settings
from streamlytics.dbt_relations import relation


@dataclass(frozen=True)
class SyncCounts:
    inserted: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        """Documents in the collection after the sync."""
        return self.inserted + self.updated + self.unchanged

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "total": self.total}


class DuplicateDocumentId(ValueError):
    """Two documents given for one sync share an _id."""


def _stored_hashes(coll: Collection) -> dict[Any, str | None]:
    # An aggregation rather than find(projection): nx-27017 answers a $project in SQL, but a
    # find by decoding every whole document in Python (0.7 s instead of 5.2 s of server CPU
    # for 50,000 users). Large batches: the answer is ~100 bytes per document.
    rows = coll.aggregate([{"$project": {"_id": 1, "content_hash": 1}}], batchSize=10_000)
    return {d["_id"]: d.get("content_hash") for d in rows}


def _check_unique_ids(coll_name: str, docs: Sequence[Mapping[str, Any]]) -> None:
    seen: set[Any] = set()
    for doc in docs:
        if doc["_id"] in seen:
            raise DuplicateDocumentId(f"{coll_name}: two documents share _id={doc['_id']!r}")
        seen.add(doc["_id"])


def sync_collection(
    coll: Collection,
    docs: Iterable[Mapping[str, Any]],
    *,
    validate: bool = True,
    chunk_size: int = compat.BULK_CHUNK,
) -> SyncCounts:
    """Make ``coll`` hold exactly ``docs`` (each with ``_id`` and ``content_hash``).

    ``docs`` may be a stream: it is read once. With ``validate``, every document to be written
    is checked against the collection's schema first and nothing is written if one fails
    (DocumentInvalid names it); so are duplicate ids (DuplicateDocumentId). Unchanged documents
    are not re-checked: their hash equals that of a document validated when it was written.
    Documents to write wait as encoded BSON in a temporary file, so memory stays flat however
    many there are (a first publish writes every document).
    """
    if isinstance(docs, Sequence):  # a list is checked before the server is even asked
        _check_unique_ids(coll.name, docs)
    stored = _stored_hashes(coll)
    seen: set[Any] = set()
    to_write: list[Any] = []  # ids, in the order their BSON is spooled
    inserted = updated = removed = 0
    # A context manager: a document that fails validation (or a duplicate id) must not leave
    # the spool open until garbage collection.
    with tempfile.TemporaryFile() as spool:
        for doc in docs:
            doc_id = doc["_id"]
            if doc_id in seen:
                raise DuplicateDocumentId(f"{coll.name}: two documents share _id={doc_id!r}")
            seen.add(doc_id)
            if stored.get(doc_id, _MISSING) == doc["content_hash"]:
                continue
            if validate:
                schemas.validate_document(coll.name, doc)
            to_write.append(doc_id)
            spool.write(bson.encode(doc))
        spool.seek(0)
        raw = bson.decode_file_iter(spool, _RAW)
        for ids in compat.chunked(to_write, chunk_size):
            # The filter names the id from the plan: reading it from a RawBSONDocument would
            # decode the whole document.
            result = coll.bulk_write(
                [ReplaceOne({"_id": i}, next(raw), upsert=True) for i in ids], ordered=False
            )
            inserted += result.upserted_count
            updated += result.matched_count
    to_remove = [i for i in stored if i not in seen]
    for ids in compat.chunked(to_remove, chunk_size):
        removed += coll.bulk_write([DeleteMany({"_id": {"$in": ids}})], ordered=False).deleted_count
    return SyncCounts(
        inserted=inserted, updated=updated, removed=removed, unchanged=len(seen) - len(to_write)
    )


_MISSING = object()
_RAW = CodecOptions(document_class=RawBSONDocument)


def publish_documents(
    db: pymongo.database.Database, collections: Mapping[str, Iterable[Mapping[str, Any]]]
) -> dict[str, SyncCounts]:
    """Ensure collections, validators and indexes exist, then sync each collection."""
    indexes.ensure_all(db)
    return {name: sync_collection(db[name], docs) for name, docs in collections.items()}


def publish(
    database_url: str,
    mongodb_uri: str,
    mongodb_db: str,
    *,
    resolve: documents.Resolve = relation,
    cfg: Settings | None = None,
) -> dict[str, SyncCounts]:
    """Shape every document from the dbt sync models and publish it into ``mongodb_db``.

    ``resolve`` names the relation of each model (default: dbt's manifest). The models are read
    from the warehouse ``cfg`` names (streamlytics.warehouse: ``database_url`` on PostgreSQL,
    Spark Connect on Spark). Documents stream into the sync (PostgreSQL: one read-only
    transaction, server-side cursors; Spark: Arrow batches): the client never holds a whole
    model or every document as Python objects.
    """
    for model in documents.MODELS:  # a missing manifest or model fails before any write
        resolve(model)
    conn = warehouse.connect(cfg, database_url, readonly=True)
    try:
        with pymongo.MongoClient(mongodb_uri) as client:
            return publish_documents(
                client[mongodb_db],
                {name: build(conn, resolve) for name, build in documents.BUILDERS.items()},
            )
    finally:
        conn.close()
