"""Ingest a data directory: preflight every file, then land each file as one atomic batch."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg2

from streamlytics.ingest import db, ledger, load_raw, quarantine
from streamlytics.ingest.checks import SourceFile, preflight
from streamlytics.ingest.errors import InvariantError
from streamlytics.ingest.quarantine import QuarantineSpool
from streamlytics.ingest.report import FileReport, IngestReport

FileProgress = Callable[[SourceFile, int], None]
"""Called with a file and the bytes of it processed so far."""


def ingest_directory(
    data_dir: Path, database_url: str, progress: FileProgress | None = None
) -> IngestReport:
    """Load users.csv, content.json and every viewing_sessions*.csv of ``data_dir``.

    Raises PreflightError (and writes nothing) if any file is unloadable. Each file then lands
    in its own transaction; files already loaded with the same bytes are skipped.
    """
    sources = preflight(Path(data_dir))
    with closing(db.connect(database_url)) as conn:
        db.apply_schema(conn)
        files = [load_source(conn, source, progress) for source in sources]
    return IngestReport(str(Path(data_dir).resolve()), files)


def load_source(conn: Any, source: SourceFile, progress: FileProgress | None = None) -> FileReport:
    """Land one checked file as one batch, in one transaction, or skip it if already loaded.

    In that transaction: the superseded batch's rows are deleted, the new rows and the
    rejections are copied, the ledger is updated, and lines read = loaded + quarantined is
    checked (InvariantError otherwise). Any failure rolls all of it back; a data failure
    also leaves a 'failed' ledger row.
    """
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC)
    on_bytes = (lambda done: progress(source, done)) if progress is not None else None
    try:
        with conn, conn.cursor() as cursor, QuarantineSpool(source.batch_id, source.name) as spool:
            db.lock(cursor)
            existing = ledger.loaded_batch(cursor, source.batch_id)
            if existing is not None:
                return skipped(source, existing, started, on_bytes)
            old = ledger.batches_to_supersede(cursor, source)
            load_id = ledger.next_load_id(cursor)
            load_raw.delete_batches(cursor, source.kind, [b.load_id for b in old])
            quarantine.delete_batches(cursor, [b.batch_id for b in old])
            copy = load_raw.copy_content if source.kind == "content" else load_raw.copy_csv
            counts = copy(cursor, source, load_id, spool, on_bytes)
            check_accounted(source, counts)
            ledger.record_loaded(
                cursor, load_id, source, source.records, counts.rows_loaded, counts.rows_quarantined
            )
            ledger.mark_superseded(cursor, old, load_id)
    except db.CONNECTION_ERRORS:
        raise  # the connection is gone: nothing to record; the caller may retry
    except Exception as exc:
        _record_failure(conn, source, started_at, exc)
        raise
    return loaded(source, counts, load_id, old, started)


def loaded(
    source: SourceFile,
    counts: load_raw.CopyCounts,
    load_id: int,
    superseded: list[ledger.LoadedBatch],
    started: float,
) -> FileReport:
    """The report of a file this run landed (either engine), replacing the `superseded` batches."""
    return FileReport(
        source.name,
        source.kind,
        source.batch_id,
        "loaded",
        source.records,
        counts.rows_loaded,
        counts.rows_quarantined,
        load_id,
        tuple(b.batch_id for b in superseded),
        time.perf_counter() - started,
    )


def skipped(
    source: SourceFile,
    existing: ledger.LoadedBatch,
    started: float,
    on_bytes: Callable[[int], None] | None,
) -> FileReport:
    """The report of a file whose bytes are already loaded (its ledger row's counts)."""
    if on_bytes is not None:
        on_bytes(source.size)
    return FileReport(
        source.name,
        source.kind,
        source.batch_id,
        "skipped",
        existing.lines_read,
        existing.rows_loaded,
        existing.rows_quarantined,
        existing.load_id,
        seconds=time.perf_counter() - started,
    )


def check_accounted(source: SourceFile, counts: load_raw.CopyCounts) -> None:
    """The batch invariant: every record the preflight counted was read, and landed or was quarantined."""
    if counts.lines_read != source.records:
        raise InvariantError(
            f"{source.name}: preflight counted {source.records} records but the loader read "
            f"{counts.lines_read}; the batch was rolled back"
        )
    if counts.lines_read != counts.rows_loaded + counts.rows_quarantined:
        raise InvariantError(
            f"{source.name}: {counts.lines_read} records read but {counts.rows_loaded} loaded + "
            f"{counts.rows_quarantined} quarantined; the batch was rolled back"
        )


def _record_failure(conn: Any, source: SourceFile, started_at: dt.datetime, exc: Exception) -> None:
    # Best effort: the failure itself is what the caller must see, not a second error.
    try:
        with conn, conn.cursor() as cursor:
            ledger.record_failed(cursor, source, started_at, f"{type(exc).__name__}: {exc}")
    except psycopg2.Error:
        pass
