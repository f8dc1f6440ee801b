"""COPY into the raw landing tables, streaming, with every rejected record spooled to quarantine.

A CSV is read in blocks by a producer thread that validates and rewrites them (csv_lines)
while the main thread feeds the previous blocks to ``COPY ... FROM STDIN``. psycopg2 releases
the GIL while it sends, so Python parsing and the server's COPY run at the same time on two
cores; a small bounded queue between them keeps memory flat whatever the file size.
"""

from __future__ import annotations

import hashlib
import io
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Self

import psycopg2

from streamlytics.ingest.checks import SourceFile, file_signature, strip_bom
from streamlytics.ingest.content import FlatContent, flatten, scan_document, validate_item
from streamlytics.ingest.copy_text import encode_row
from streamlytics.ingest.csv_lines import BlockConverter
from streamlytics.ingest.errors import SourceChangedError
from streamlytics.ingest.formats import CSV_LAYOUTS, LANDING_TABLES
from streamlytics.ingest.quarantine import QuarantineSpool, Rejection

BLOCK_BYTES = 1024 * 1024
QUEUE_DEPTH = 4

ProgressCallback = Callable[[int], None]
"""Called with the number of bytes of the file processed so far."""


@dataclass(frozen=True)
class CopyCounts:
    """What one batch's COPY did, as counted independently by the reader and by the server."""

    lines_read: int
    """Records the reader went through (CSV lines after the header, or JSON items)."""
    rows_loaded: int
    """Rows (CSV) or items (content.json) the server reports as stored."""
    rows_quarantined: int


def iter_blocks(stream: io.BufferedIOBase, block_bytes: int = BLOCK_BYTES) -> Iterator[bytes]:
    """Blocks of whole lines, each ending in LF (one is added to a last unterminated line).

    Memory is bounded by ``block_bytes`` plus the longest line.
    """
    pending = b""
    while chunk := stream.read(block_bytes):
        data = pending + chunk if pending else chunk
        cut = data.rfind(b"\n") + 1
        if cut:
            yield data[:cut]
        pending = data[cut:]
    if pending:
        yield pending + b"\n"


class _Done:
    """Queue sentinel: the producer finished (``error`` set if it failed)."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class ProducerReader:
    """A file-like object for ``copy_expert`` whose bytes come from a background thread.

    ``produce(emit)`` runs in the thread and calls ``emit(chunk)`` for each chunk; an exception
    it raises is re-raised by :meth:`read` in the consuming thread, which aborts the COPY.
    """

    def __init__(
        self, produce: Callable[[Callable[[bytes], None]], None], depth: int = QUEUE_DEPTH
    ) -> None:
        self._queue: queue.Queue[bytes | _Done] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._finished = False
        self.error: BaseException | None = None
        """The producer's exception, once :meth:`read` has raised it."""
        self._thread = threading.Thread(
            target=self._run, args=(produce,), name="ingest-producer", daemon=True
        )
        self._thread.start()

    def _emit(self, chunk: bytes) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(chunk, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Stopped()

    def _run(self, produce: Callable[[Callable[[bytes], None]], None]) -> None:
        try:
            produce(self._emit)
        except _Stopped:
            return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            self._put_final(_Done(exc))
            return
        self._put_final(_Done())

    def _put_final(self, item: _Done) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def read(self, size: int = -1) -> bytes:
        if self._finished:
            return b""
        while True:
            item = self._queue.get()
            if isinstance(item, _Done):
                self._finished = True
                if item.error is not None:
                    self.error = item.error
                    raise item.error
                return b""
            if item:
                return item

    def close(self) -> None:
        """Stop the producer (if still running) and wait for it."""
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Stopped(Exception):
    """The consumer went away; the producer just ends."""


def copy_from_producer(
    cursor: Any, sql: str, produce: Callable[[Callable[[bytes], None]], None]
) -> int:
    """Run ``COPY ... FROM STDIN`` fed by ``produce`` in a background thread; returns the rows copied.

    psycopg2 reports an exception raised while reading as a QueryCanceled (a connection-class
    error); the producer's own exception is re-raised instead, so that a data or code problem
    is never mistaken for a connection failure and retried.
    """
    with ProducerReader(produce) as reader:
        try:
            cursor.copy_expert(sql, reader, size=BLOCK_BYTES)
        except psycopg2.Error:
            if reader.error is not None:
                raise reader.error from None
            raise
        return cursor.rowcount


def _column_list(table_columns: tuple[str, ...]) -> str:
    return ", ".join(table_columns)


def check_unchanged(source: SourceFile) -> None:
    if file_signature(source.path.stat()) != source.signature:
        raise SourceChangedError(
            f"{source.name} changed after it was checked; run the ingest again"
        )


def copy_csv(
    cursor: Any,
    source: SourceFile,
    load_id: int,
    spool: QuarantineSpool,
    progress: ProgressCallback | None = None,
) -> CopyCounts:
    """Stream a checked CSV into its landing table; rejected lines go to ``spool``.

    Refuses (SourceChangedError) a file whose size, mtime or inode differ from the preflight's,
    before and after reading it. (Not a second sha256: that would cost the loader 7 % more CPU
    for a change that would have to keep both size and mtime to slip through.)
    """
    layout = CSV_LAYOUTS[source.kind]
    converter = BlockConverter(layout, load_id)
    state = {"lines": 0}

    def produce(emit: Callable[[bytes], None]) -> None:
        state["lines"] = convert_csv(source, converter, spool, emit, progress)

    check_unchanged(source)
    columns = (*layout.column_names, "_source_line", "_load_id")
    sql = f"copy {layout.table} ({_column_list(columns)}) from stdin with (format text, delimiter ',')"
    rows_loaded = copy_from_producer(cursor, sql, produce)
    check_unchanged(source)
    rows_quarantined = spool.copy_into(cursor)
    return CopyCounts(state["lines"], rows_loaded, rows_quarantined)


def convert_csv(
    source: SourceFile,
    converter: BlockConverter,
    spool: QuarantineSpool,
    emit: Callable[[bytes], None],
    progress: ProgressCallback | None = None,
) -> int:
    """Read a checked CSV block by block: ``emit`` gets the converted rows of each block, ``spool``
    every rejected line; returns the data lines read. Memory: one block at a time."""
    done = 0
    line = 2  # the first data line; line 1 is the header
    with source.path.open("rb") as stream:
        done += len(stream.readline())
        for block in iter_blocks(stream):
            out, rejections = converter.convert(block, line)
            for rejection in rejections:
                spool.add(rejection)
            line += block.count(b"\n")
            done += len(block)
            if out:
                emit(out)
            if progress is not None:
                progress(done)
    return line - 2


def _copy_rows(
    cursor: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> int:
    if not rows:
        return 0
    payload = "".join(encode_row(row) for row in rows).encode("utf-8")
    cursor.copy_expert(f"copy {table} ({_column_list(columns)}) from stdin", io.BytesIO(payload))
    return cursor.rowcount


def _keyed(rows: list[tuple[Any, ...]], load_id: int) -> list[tuple[Any, ...]]:
    return [(*row, load_id) for row in rows]


def copy_content(
    cursor: Any,
    source: SourceFile,
    load_id: int,
    spool: QuarantineSpool,
    progress: ProgressCallback | None = None,
) -> CopyCounts:
    """Flatten a checked content.json into its four landing tables; bad items go to ``spool``."""
    items, flat = flatten_content(source, spool)
    lineage = ("_item_index", "_source_line", "_load_id")
    movies = _copy_rows(
        cursor, "raw.movies_rows", (*MOVIE_COLUMNS, *lineage), _keyed(flat.movies, load_id)
    )
    series = _copy_rows(
        cursor, "raw.series_rows", (*SERIES_COLUMNS, *lineage), _keyed(flat.series, load_id)
    )
    _copy_rows(
        cursor, "raw.content_genres_rows", (*GENRE_COLUMNS, *lineage), _keyed(flat.genres, load_id)
    )
    _copy_rows(
        cursor,
        "raw.series_seasons_rows",
        (*SEASON_COLUMNS, *lineage),
        _keyed(flat.seasons, load_id),
    )
    if progress is not None:
        progress(source.size)
    return CopyCounts(items, movies + series, spool.copy_into(cursor))


MOVIE_COLUMNS = (
    "content_id",
    "title",
    "duration_minutes",
    "release_year",
    "rating",
    "views_count",
    "production_budget",
)
SERIES_COLUMNS = (
    "content_id",
    "title",
    "seasons",
    "avg_episode_duration",
    "rating",
    "total_views",
    "production_budget",
)
GENRE_COLUMNS = ("content_id", "content_type", "genre", "genre_position")
SEASON_COLUMNS = ("content_id", "season_number", "episode_count")


def flatten_content(source: SourceFile, spool: QuarantineSpool) -> tuple[int, FlatContent]:
    """(items read, the valid items flattened) of a checked content.json; bad items go to
    ``spool``. The file is a few MB at most: it is read whole (the JSON scanner needs it)."""
    data = source.path.read_bytes()
    if hashlib.sha256(data).hexdigest() != source.batch_id:
        raise SourceChangedError(
            f"{source.name} changed while it was being loaded; run the ingest again"
        )
    doc = scan_document(strip_bom(data).decode("utf-8"))
    flat = FlatContent()
    for item in doc.items:
        violations = validate_item(item)
        if not violations:
            flatten(item, flat)
            continue
        first = violations[0]
        detail = first.detail
        if len(violations) > 1:
            detail += " (also: " + "; ".join(f"{v.field} {v.detail}" for v in violations[1:]) + ")"
        label = f"{item.section}[{item.index}]"
        if isinstance(item.value, dict) and isinstance(item.value.get("content_id"), str):
            label += f", content_id {item.value['content_id']}"
        spool.add(
            Rejection(
                line=item.line,
                reason=first.reason,
                field=first.field,
                value=first.value,
                detail=detail,
                raw_text=item.raw_text,
                item_index=item.index,
                item_label=label,
            )
        )
    return len(doc.items), flat


def delete_batches(cursor: Any, kind: str, load_ids: list[int]) -> None:
    """Remove the landing rows of superseded batches of one file kind."""
    if load_ids:
        for table in LANDING_TABLES[kind]:
            cursor.execute(f"delete from {table} where _load_id = any(%s)", (load_ids,))
