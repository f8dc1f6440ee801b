"""Portability helpers: the same code against a real MongoDB and the embedded nx-27017.

nx-27017 (the project's default server, see docs/mongo.md) speaks the wire protocol but has
gaps: it answers one request at a time, rewrites index names, does not enforce ``$jsonSchema``
validators and reports index use in SQLite's words. These helpers hide only the *reporting*
differences; the operations themselves are standard MongoDB.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

from pymongo.collection import Collection
from pymongo.database import Database

T = TypeVar("T")

# nx-27017 processes one request at a time; a bulk write of ~1000 documents keeps every
# request far below the client's socket timeout while staying efficient on a real server.
BULK_CHUNK = 1000

_INDEX_STAGES = ("IXSCAN", "IDHACK", "EXPRESS_IXSCAN", "EXPRESS_CLUSTERED_IXSCAN", "COUNT_SCAN")


def chunked(items: Iterable[T], size: int = BULK_CHUNK) -> Iterator[list[T]]:
    """Yield consecutive lists of at most ``size`` items (the last may be shorter)."""
    if size < 1:
        raise ValueError(f"chunk size must be positive, got {size}")
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def server_process(db: Database) -> str:
    """``"nx_27017"`` for the embedded server, ``"mongod"`` (or what buildInfo says) otherwise."""
    info = db.client.admin.command("buildInfo")
    return str(info.get("process") or "mongod")


def is_embedded_server(db: Database) -> bool:
    return server_process(db) == "nx_27017"


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, Mapping):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def winning_plan_uses_index(explain: Mapping[str, Any]) -> bool:
    """True when an ``explain`` document's winning plan reads through an index.

    A real MongoDB names index stages (IXSCAN, EXPRESS_IXSCAN, ...); nx-27017 returns SQLite's
    query plan (``SEARCH coll USING INDEX idx_...``). A full scan (COLLSCAN / ``SCAN coll``)
    anywhere in the plan without an index stage counts as not using one.
    """
    plan = explain.get("queryPlanner", {}).get("winningPlan", explain)
    for node in _walk(plan):
        if isinstance(node, Mapping):
            if node.get("stage") in _INDEX_STAGES:
                return True
            detail = node.get("detail")
            if isinstance(detail, str) and "USING" in detail and "INDEX" in detail:
                return True
    return False


def index_keys(collection: Collection) -> dict[tuple[tuple[str, int], ...], bool]:
    """Every index of a collection as {key pattern: unique?}, ignoring index names.

    Names are ignored because nx-27017 rewrites them (``idx_<coll>_<field>``).
    """
    keys: dict[tuple[tuple[str, int], ...], bool] = {}
    for info in collection.index_information().values():
        pattern = tuple((str(field), int(direction)) for field, direction in info["key"])
        keys[pattern] = bool(info.get("unique", False))
    return keys
