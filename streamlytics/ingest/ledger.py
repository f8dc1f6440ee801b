"""audit.load_batches: one row per load attempt, the memory that makes loading idempotent.

Rules (docs/ingestion.md explains why):
- a batch whose id (sha256 of the bytes) is already 'loaded' is skipped, whatever its name;
- users.csv and content.json are snapshots: a new batch supersedes the loaded batch of its kind;
- viewing_sessions*.csv files are incremental: a new file name appends; new bytes under an
  already-loaded name are a corrected re-export and supersede that name's loaded batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streamlytics.ingest.checks import BOM_NOTE, SourceFile
from streamlytics.ingest.errors import IngestError
from streamlytics.ingest.formats import INT4_MAX, SNAPSHOT_KINDS


@dataclass(frozen=True)
class LoadedBatch:
    load_id: int
    batch_id: str
    source_file: str
    lines_read: int
    rows_loaded: int
    rows_quarantined: int


_SELECT_LOADED = (
    "select load_id, batch_id, source_file, lines_read, rows_loaded, rows_quarantined "
    "from audit.load_batches where status = 'loaded'"
)


def loaded_batch(cursor: Any, batch_id: str) -> LoadedBatch | None:
    """The loaded batch with these bytes, if any."""
    cursor.execute(_SELECT_LOADED + " and batch_id = %s", (batch_id,))
    row = cursor.fetchone()
    return LoadedBatch(*row) if row else None


def batches_to_supersede(cursor: Any, source: SourceFile) -> list[LoadedBatch]:
    """Loaded batches that ``source`` replaces (see the module rules)."""
    if source.kind in SNAPSHOT_KINDS:
        cursor.execute(_SELECT_LOADED + " and file_kind = %s order by load_id", (source.kind,))
    else:
        cursor.execute(
            _SELECT_LOADED + " and file_kind = %s and source_file = %s order by load_id",
            (source.kind, source.name),
        )
    return [LoadedBatch(*row) for row in cursor.fetchall()]


def next_load_id(cursor: Any) -> int:
    """A new load id (landing rows store it in 4 bytes, hence the bound)."""
    cursor.execute("select nextval(pg_get_serial_sequence('audit.load_batches', 'load_id'))")
    load_id = int(cursor.fetchone()[0])
    if load_id > INT4_MAX:
        raise IngestError(
            f"audit.load_batches.load_id reached {load_id:,}, beyond the 4-byte landing key"
        )
    return load_id


def record_loaded(
    cursor: Any,
    load_id: int,
    source: SourceFile,
    lines_read: int,
    rows_loaded: int,
    rows_quarantined: int,
) -> None:
    """Ledger row of a batch landing in the current transaction (started_at = transaction start)."""
    cursor.execute(
        """
        insert into audit.load_batches (
            load_id, batch_id, source_file, source_path, file_kind, file_bytes,
            lines_read, rows_loaded, rows_quarantined, started_at, finished_at, status, notes
        ) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, now(), clock_timestamp(), 'loaded', %s)
        """,
        (
            load_id,
            source.batch_id,
            source.name,
            str(source.path.resolve()),
            source.kind,
            source.size,
            lines_read,
            rows_loaded,
            rows_quarantined,
            load_notes(source),
        ),
    )


def load_notes(source: SourceFile) -> str | None:
    """What the loader accepted and adjusted in a file, for the ledger's ``notes``."""
    return f"{source.name} {BOM_NOTE}" if source.byte_order_mark else None


def mark_superseded(cursor: Any, old: list[LoadedBatch], by_load_id: int) -> None:
    if old:
        cursor.execute(
            "update audit.load_batches set status = 'superseded', superseded_by = %s "
            "where load_id = any(%s)",
            (by_load_id, [b.load_id for b in old]),
        )


def record_failed(cursor: Any, source: SourceFile, started_at: Any, error: str) -> None:
    """Ledger row of an attempt that was rolled back (written in its own transaction)."""
    cursor.execute(
        """
        insert into audit.load_batches (
            batch_id, source_file, source_path, file_kind, file_bytes,
            started_at, finished_at, status, error
        ) values (%s, %s, %s, %s, %s, %s, clock_timestamp(), 'failed', %s)
        """,
        (
            source.batch_id,
            source.name,
            str(source.path.resolve()),
            source.kind,
            source.size,
            started_at,
            error[:4000],
        ),
    )
