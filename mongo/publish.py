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

Incremental publication (``publish(..., incremental=True)``, the publish stage's default): the
state document (collection ``publish_state``) records the loaded batches the documents were
built from (dbt's sync_mongo_batches: source, batch id, rows in the core) and the version of the
document shaping. When the only difference since is new session batches, only the documents
those batches touched (dbt's sync_mongo_batch_documents) are built and upserted: a new
session changes its user's and its title's documents and no other. Any other difference - no
state yet, a users or content batch, a batch gone or with another row count (a corrected
re-export), other shaping code - makes it a full publish. Nothing new: nothing is read but the
batches, nothing is written. The state is written last, after every collection synced.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
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
    built: int = field(default=0, compare=False)
    """Documents built from the warehouse for this sync (all, or an incremental publish's)."""

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
    seen, written, inserted, updated = _write_documents(
        coll,
        docs,
        validate=validate,
        chunk_size=chunk_size,
        unchanged=lambda doc: stored.get(doc["_id"], _MISSING) == doc["content_hash"],
    )
    removed = 0
    to_remove = [i for i in stored if i not in seen]
    for ids in compat.chunked(to_remove, chunk_size):
        removed += coll.bulk_write([DeleteMany({"_id": {"$in": ids}})], ordered=False).deleted_count
    return SyncCounts(
        inserted=inserted,
        updated=updated,
        removed=removed,
        unchanged=len(seen) - written,
        built=len(seen),
    )


def _write_documents(
    coll: Collection,
    docs: Iterable[Mapping[str, Any]],
    *,
    validate: bool,
    chunk_size: int,
    unchanged: Callable[[Mapping[str, Any]], bool] = lambda doc: False,
) -> tuple[set[Any], int, int, int]:
    """Upsert by _id each document of ``docs`` that is not ``unchanged``; return the ids seen,
    and how many were written, inserted and updated.

    Every document is checked (schema with ``validate``, duplicate ids) and spooled as encoded
    BSON in a temporary file before anything is written, so a bad one writes nothing and memory
    stays flat however many there are.
    """
    seen: set[Any] = set()
    to_write: list[Any] = []  # ids, in the order their BSON is spooled
    inserted = updated = 0
    # A context manager: a document that fails validation (or a duplicate id) must not leave
    # the spool open until garbage collection.
    with tempfile.TemporaryFile() as spool:
        for doc in docs:
            doc_id = doc["_id"]
            if doc_id in seen:
                raise DuplicateDocumentId(f"{coll.name}: two documents share _id={doc_id!r}")
            seen.add(doc_id)
            if unchanged(doc):
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
    return seen, len(to_write), inserted, updated


class _SpooledDocument(RawBSONDocument):
    """A spooled document, sent as its BSON bytes.

    Always true: pymongo's ReplaceOne check ``if replacement and ...`` would otherwise call
    ``len()``, which decodes the whole RawBSONDocument only to count its keys (measured at
    scale 10: 50,000 needless decodes, 0.5 s of client CPU on the first publish). A document
    always has an ``_id``, so it is never empty.
    """

    __slots__ = ()

    def __bool__(self) -> bool:
        return True


_MISSING = object()
_RAW = CodecOptions(document_class=_SpooledDocument)


def upsert_documents(
    coll: Collection,
    docs: Iterable[Mapping[str, Any]],
    *,
    validate: bool = True,
    chunk_size: int = compat.BULK_CHUNK,
) -> SyncCounts:
    """Write every document of ``docs`` (upsert by _id); remove nothing, keep the others.

    The part of a collection an incremental publish rebuilt: every given document is checked
    (schema, duplicate ids) and spooled before anything is written, as in
    :func:`sync_collection`. Stored hashes are not compared: the documents a new session batch
    touched have all changed (their session counts did), and nx-27017 answers a look-up of
    ids (``$in``) by scanning the collection, once per chunk (0.8 s per 1,000 ids among 20,000
    documents, measured), while a write is a write on either path. ``unchanged`` counts the
    collection's other documents, so ``total`` is its size.
    """
    seen, _, inserted, updated = _write_documents(
        coll, docs, validate=validate, chunk_size=chunk_size
    )
    total = coll.estimated_document_count()
    return SyncCounts(
        inserted=inserted, updated=updated, unchanged=total - inserted - updated, built=len(seen)
    )


def publish_documents(
    db: pymongo.database.Database,
    collections: Mapping[str, Iterable[Mapping[str, Any]]],
    *,
    partial: bool = False,
) -> dict[str, SyncCounts]:
    """Ensure collections, validators and indexes exist, then sync each collection (with
    ``partial``, upsert the given documents and keep the others: :func:`upsert_documents`)."""
    indexes.ensure_all(db)
    sync = upsert_documents if partial else sync_collection
    return {name: sync(db[name], docs) for name, docs in collections.items()}


# --- incremental publication ----------------------------------------------------------------

STATE_COLLECTION = "publish_state"
_STATE_ID = "sync_mongo"


def shaping_version() -> str:
    """sha256 of the code that shapes and checks documents: new code means new documents."""
    digest = hashlib.sha256()
    for module in (documents, schemas):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()


def loaded_batches(conn: Any, resolve: documents.Resolve = relation) -> list[list[Any]]:
    """[source_name, batch_id, row_count] of every batch behind the documents, sorted."""
    query = (
        f"select source_name, batch_id, row_count from {resolve(documents.BATCHES_MODEL)} "
        "order by source_name, batch_id"
    )
    return sorted(
        [source, batch, int(rows)] for source, batch, rows in warehouse.stream_rows(conn, query)
    )


def new_session_batches(
    state: Mapping[str, Any] | None,
    batches: list[list[Any]],
    version: str,
    documents_held: Mapping[str, int],
) -> list[str] | None:
    """The session batches that arrived since ``state`` was published, when that is the only
    difference (empty: nothing new); None when a full publish is needed.

    ``documents_held``: the documents each collection holds now; other counts than the state's
    mean someone else changed the collections since.
    """
    if not state or state.get("shaping_version") != version:
        return None
    if state.get("documents") != dict(documents_held):
        return None
    before = {(source, batch): rows for source, batch, rows in state.get("batches", [])}
    now = {(source, batch): rows for source, batch, rows in batches}
    if any(now.get(key) != rows for key, rows in before.items()):
        return None  # a batch went, or a later one replaced some of its rows
    new = [key for key in now if key not in before]
    if any(source != "viewing_sessions" for source, _ in new):
        return None  # new users or titles, or new attributes: any document may change
    return sorted(batch for _, batch in new)


def publish(
    database_url: str,
    mongodb_uri: str,
    mongodb_db: str,
    *,
    resolve: documents.Resolve = relation,
    cfg: Settings | None = None,
    incremental: bool = False,
) -> dict[str, SyncCounts]:
    """Shape the documents from the dbt sync models and publish them into ``mongodb_db``.

    ``resolve`` names the relation of each model (default: dbt's manifest). The models are read
    from the warehouse ``cfg`` names (streamlytics.warehouse: ``database_url`` on PostgreSQL,
    Spark Connect on Spark). Documents stream into the sync (PostgreSQL: one read-only
    transaction, server-side cursors; Spark: Arrow batches): the client never holds a whole
    model or every document as Python objects.

    Every document is rebuilt unless ``incremental``: then only those of the session batches
    published since the recorded state, when nothing else changed (module docstring). Either
    way the collections end holding the documents a full publish gives.
    """
    for model in documents.MODELS:  # a missing manifest or model fails before any write
        resolve(model)
    conn = warehouse.connect(cfg, database_url, readonly=True)
    try:
        with pymongo.MongoClient(mongodb_uri) as client:
            db = client[mongodb_db]
            batches = loaded_batches(conn, resolve)
            version = shaping_version()
            state = db[STATE_COLLECTION].find_one({"_id": _STATE_ID})
            new = None
            if incremental:
                held = {name: db[name].estimated_document_count() for name in documents.BUILDERS}
                new = new_session_batches(state, batches, version, held)
            if new is None:
                counts = publish_documents(
                    db, {name: build(conn, resolve) for name, build in documents.BUILDERS.items()}
                )
            else:
                counts = publish_documents(
                    db,
                    {
                        name: build(conn, resolve, new) if new else ()
                        for name, build in documents.BUILDERS.items()
                    },
                    partial=True,
                )
            recorded = {
                "_id": _STATE_ID,
                "batches": batches,
                "shaping_version": version,
                "documents": {name: c.total for name, c in counts.items()},
            }
            if state != recorded:
                db[STATE_COLLECTION].replace_one({"_id": _STATE_ID}, recorded, upsert=True)
            return counts
    finally:
        conn.close()
