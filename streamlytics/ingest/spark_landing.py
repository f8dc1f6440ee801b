"""Raw landing on Apache Spark: each batch as Parquet files, registered as partitions of tables of
the ``raw`` database, with the same preflight, parse rules, quarantine and ledger as PostgreSQL.

Spark tables here are plain Parquet (no Delta/Iceberg JARs are reachable), so there is no
transaction to roll back. Atomicity comes from the order of the steps instead:

1. the batch's rows and rejections are written by pyarrow, streaming block by block from the
   same line parser as the COPY loader, into a fresh attempt folder under each table's location
   (nothing reads those folders yet);
2. Spark counts what it can read back, and rows in = loaded + quarantined is checked;
3. each folder is registered as the partition ``_load_id = N`` of its table (a metastore call);
4. the ledger rows are appended last, in one write: the batch 'loaded' and the batches it
   replaces 'superseded'. That append is the commit point.

The views the dbt sources read (``raw.users``, ``raw.viewing_sessions``, ..., and
``audit.quarantine``) join the ledger view ``audit.load_batches`` on status 'loaded', so a load
killed before step 4 is invisible, and a superseded batch disappears in the same append that
makes its successor visible. The next load sweeps what a killed or superseded load left behind
(partitions of batches that are not 'loaded', unregistered attempt folders).

The ledger on Parquet cannot be updated in place: ``audit.load_batch_log`` is append-only (one
row per state of a load) and ``audit.load_batches`` is its latest row per load_id, with the
PostgreSQL table's columns. Loaders on one machine take turns through a lock file in the state
folder; two machines loading into the same cluster at once are not supported.

The client writes the Parquet files itself, so it must reach the warehouse's storage: the local
Connect server's folder, or a shared file system / object store (docs/scale-out.md).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import io
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from streamlytics.config import Settings
from streamlytics.ingest import ledger as pg_ledger
from streamlytics.ingest.checks import SourceFile, preflight
from streamlytics.ingest.csv_lines import BlockConverter
from streamlytics.ingest.errors import InvariantError
from streamlytics.ingest.formats import CSV_LAYOUTS, SNAPSHOT_KINDS, FieldType
from streamlytics.ingest.load_raw import (
    GENRE_COLUMNS,
    MOVIE_COLUMNS,
    SEASON_COLUMNS,
    SERIES_COLUMNS,
    CopyCounts,
    check_unchanged,
    convert_csv,
    flatten_content,
)
from streamlytics.ingest.pipeline import FileProgress, check_accounted, loaded, skipped
from streamlytics.ingest.quarantine import QUARANTINE_COLUMNS, QuarantineSpool
from streamlytics.ingest.report import FileReport, IngestReport

DECIMAL_DIGITS = (23, 15)
"""Spark's decimal is fixed-precision: raw decimals land as decimal(38, 15). A value with more
digits is quarantined as bad_number (PostgreSQL's unconstrained numeric would take it)."""
SPARK_DECIMAL = f"decimal({sum(DECIMAL_DIGITS)},{DECIMAL_DIGITS[1]})"
ROWS_PER_GROUP = 256 * 1024
"""Rows per Parquet row group: what the writer holds in memory before flushing."""

_SPARK_TYPES: dict[FieldType | str, str] = {
    "text": "string",
    "int4": "int",
    "int8": "bigint",
    "decimal": SPARK_DECIMAL,
    "date": "date",
}


@dataclass(frozen=True)
class LandingTable:
    """One partitioned Parquet table of the raw landing and the view dbt's source reads."""

    name: str
    """``users`` gives table raw.users_rows and view raw.users."""
    columns: tuple[tuple[str, str], ...]
    """(name, Spark type) of the fields, in file order, without lineage."""
    item_index: bool = False
    """content.json tables carry the item's index in its section."""

    @property
    def table(self) -> str:
        return f"raw.{self.name}_rows"

    @property
    def stored_columns(self) -> tuple[tuple[str, str], ...]:
        lineage = (("_item_index", "int"),) if self.item_index else ()
        return (*self.columns, *lineage, ("_source_line", "int"))


def _csv_table(kind: str) -> LandingTable:
    layout = CSV_LAYOUTS[kind]
    return LandingTable(kind, tuple((f.name, _SPARK_TYPES[f.type]) for f in layout.fields))


_CONTENT_TYPES = {
    "content_id": "string",
    "title": "string",
    "duration_minutes": "int",
    "release_year": "int",
    "rating": SPARK_DECIMAL,
    "views_count": "bigint",
    "production_budget": "bigint",
    "seasons": "int",
    "avg_episode_duration": "int",
    "total_views": "bigint",
    "content_type": "string",
    "genre": "string",
    "genre_position": "int",
    "season_number": "int",
    "episode_count": "int",
}


def _content_table(name: str, columns: tuple[str, ...]) -> LandingTable:
    return LandingTable(name, tuple((c, _CONTENT_TYPES[c]) for c in columns), item_index=True)


USERS = _csv_table("users")
SESSIONS = _csv_table("viewing_sessions")
MOVIES = _content_table("movies", MOVIE_COLUMNS)
SERIES = _content_table("series", SERIES_COLUMNS)
GENRES = _content_table("content_genres", GENRE_COLUMNS)
SEASONS = _content_table("series_seasons", SEASON_COLUMNS)
LANDING: dict[str, tuple[LandingTable, ...]] = {
    "users": (USERS,),
    "viewing_sessions": (SESSIONS,),
    "content": (MOVIES, SERIES, GENRES, SEASONS),
}

LEDGER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("load_id", "bigint"),
    ("batch_id", "string"),
    ("source_file", "string"),
    ("source_path", "string"),
    ("file_kind", "string"),
    ("file_bytes", "bigint"),
    ("lines_read", "bigint"),
    ("rows_loaded", "bigint"),
    ("rows_quarantined", "bigint"),
    ("started_at", "timestamp"),
    ("finished_at", "timestamp"),
    ("status", "string"),
    ("superseded_by", "bigint"),
    ("error", "string"),
    ("notes", "string"),
)
_LEDGER_LOG_EXTRA = (("recorded_seq", "bigint"),)

QUARANTINE_TYPES: dict[str, str] = {
    "quarantine_id": "bigint",
    "batch_id": "string",
    "source_file": "string",
    "source_line": "bigint",
    "item_index": "int",
    "stage": "string",
    "reason_code": "string",
    "field": "string",
    "value": "string",
    "message": "string",
    "raw_text": "string",
    "detected_at": "timestamp",
}
QUARANTINE_ID_STRIDE = 10**10
"""quarantine_id = load_id × stride + the rejection's position in its batch: unique without a
sequence (Spark has none), and in load order like PostgreSQL's bigserial."""

_DATABASES = re.compile(r"(\b|exists )(raw|audit)(?=\.|$)")

# A text field as pyarrow's CSV reader (escape character \, no quoting) reads it back exactly.
_SPARK_ESCAPES = str.maketrans({"\\": "\\\\", ",": "\\,", "\r": "\\\r", "\n": "\\\n"})


def _escape(value: str) -> str:
    return value.translate(_SPARK_ESCAPES)


def _ddl_columns(columns: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{name} {kind}" for name, kind in columns)


def schema_statements() -> list[str]:
    """Databases, tables and views of the Spark landing (idempotent), in dependency order."""
    ledger_cols = _ddl_columns((*LEDGER_COLUMNS, *_LEDGER_LOG_EXTRA))
    quarantine_cols = _ddl_columns(tuple(QUARANTINE_TYPES.items()))
    ledger_names = ", ".join(name for name, _ in LEDGER_COLUMNS)
    statements = [
        "create database if not exists raw",
        "create database if not exists audit",
        f"create table if not exists audit.load_batch_log ({ledger_cols}) using parquet",
        (
            "create or replace view audit.load_batches as "
            f"select {ledger_names} from (select *, row_number() over "
            "(partition by load_id order by recorded_seq desc) as state_rank "
            "from audit.load_batch_log) as states where state_rank = 1"
        ),
        (
            f"create table if not exists audit.quarantine_rows ({quarantine_cols}, _load_id int) "
            "using parquet partitioned by (_load_id)"
        ),
        "create or replace view audit.quarantine as select "
        + ", ".join(f"q.{c}" for c in QUARANTINE_TYPES)
        + " from audit.quarantine_rows as q inner join audit.load_batches as b "
        "on b.load_id = q._load_id and b.status = 'loaded'",
    ]
    for tables in LANDING.values():
        for t in tables:
            fields = ", ".join(f"r.{name}" for name, _ in t.columns)
            index = "r._item_index, " if t.item_index else ""
            statements += [
                (
                    f"create table if not exists {t.table} ({_ddl_columns(t.stored_columns)}, "
                    "_load_id int) using parquet partitioned by (_load_id)"
                ),
                (
                    f"create or replace view raw.{t.name} as select {fields}, {index}"
                    "b.batch_id as _batch_id, b.source_file as _source_file, "
                    "cast(r._source_line as bigint) as _source_line, b.finished_at as _loaded_at, "
                    f"cast(r._load_id as bigint) as _load_id from {t.table} as r "
                    "inner join audit.load_batches as b "
                    "on b.load_id = r._load_id and b.status = 'loaded'"
                ),
            ]
    return statements


def _arrow_type(spark_type: str) -> Any:
    import pyarrow as pa

    if spark_type.startswith("decimal"):
        return pa.decimal128(sum(DECIMAL_DIGITS), DECIMAL_DIGITS[1])
    return {
        "string": pa.string(),
        "int": pa.int32(),
        "bigint": pa.int64(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }[spark_type]


def arrow_schema(columns: tuple[tuple[str, str], ...]) -> Any:
    import pyarrow as pa

    return pa.schema([(name, _arrow_type(kind)) for name, kind in columns])


class SparkLanding:
    """The raw landing of one Spark warehouse, reached through a Spark Connect session."""

    def __init__(self, spark: Any, lock_file: Path, database_prefix: str = "") -> None:
        self.spark = spark
        self.lock_file = lock_file
        self.database_prefix = database_prefix
        """Prepended to the ``raw`` and ``audit`` database names (the tests' own databases)."""
        self._locations: dict[str, str] = {}

    def sql(self, query: str, **args: Any) -> Any:
        """Run ``query`` (written with the databases raw. and audit.) on this landing's ones."""
        return self.spark.sql(self.qualify(query), args=args or None)

    def qualify(self, text: str) -> str:
        if not self.database_prefix:
            return text
        return _DATABASES.sub(lambda m: f"{m.group(1)}{self.database_prefix}{m.group(2)}", text)

    # -- schema and storage ------------------------------------------------------------------

    def apply_schema(self) -> None:
        for statement in schema_statements():
            self.sql(statement)

    def prepare(self) -> None:
        """The schema, and a sweep of what a killed load left (once per ingest, in turn)."""
        with self.turn():
            self.apply_schema()
            self.sweep()

    def location(self, table: str) -> str:
        if table not in self._locations:
            rows = self.sql(f"describe table extended {table}").collect()
            self._locations[table] = next(r[1] for r in rows if r[0] == "Location")
        return self._locations[table]

    @staticmethod
    def filesystem(location: str) -> tuple[Any, str]:
        """(pyarrow file system, path in it) of a table location URI."""
        from pyarrow import fs

        if location.startswith("file:"):
            return fs.LocalFileSystem(), "/" + location.removeprefix("file:").lstrip("/")
        return fs.FileSystem.from_uri(location)

    @contextmanager
    def turn(self) -> Iterator[None]:
        """One loader at a time on this machine (PostgreSQL's advisory lock's counterpart)."""
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        with self.lock_file.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- the ledger ----------------------------------------------------------------------------

    def _ledger(self, where: str, **args: Any) -> list[Any]:
        return self.sql(
            "select load_id, batch_id, source_file, lines_read, rows_loaded, rows_quarantined "
            f"from audit.load_batches where status = 'loaded' and {where} order by load_id",
            **args,
        ).collect()

    def loaded_batch(self, batch_id: str) -> pg_ledger.LoadedBatch | None:
        rows = self._ledger("batch_id = :b", b=batch_id)
        return pg_ledger.LoadedBatch(*rows[0]) if rows else None

    def batches_to_supersede(self, source: SourceFile) -> list[pg_ledger.LoadedBatch]:
        if source.kind in SNAPSHOT_KINDS:
            rows = self._ledger("file_kind = :k", k=source.kind)
        else:
            rows = self._ledger("file_kind = :k and source_file = :f", k=source.kind, f=source.name)
        return [pg_ledger.LoadedBatch(*row) for row in rows]

    def next_load_id(self) -> int:
        row = self.sql("select max(load_id) from audit.load_batch_log").collect()[0]
        return int(row[0] or 0) + 1

    def append_ledger(self, rows: list[dict[str, Any]]) -> None:
        """Append ledger rows in one write (one file: the commit point of a batch)."""
        import pyarrow as pa

        seq = time.time_ns()
        columns = (*LEDGER_COLUMNS, *_LEDGER_LOG_EXTRA)
        data = [{**row, "recorded_seq": seq + i} for i, row in enumerate(rows)]
        table = pa.Table.from_pylist(data, schema=arrow_schema(columns))
        self.spark.createDataFrame(table).coalesce(1).write.insertInto(
            self.qualify("audit.load_batch_log")
        )

    # -- sweeping ------------------------------------------------------------------------------

    def sweep(self, kinds: tuple[str, ...] = tuple(LANDING)) -> None:
        """Drop partitions of batches that are not 'loaded' (superseded, or a killed load's) and
        delete attempt folders no partition uses, in the tables of ``kinds`` and the quarantine."""
        loaded = {
            int(r[0])
            for r in self.sql(
                "select load_id from audit.load_batches where status = 'loaded'"
            ).collect()
        }
        tables = [t.table for kind in kinds for t in LANDING[kind]] + ["audit.quarantine_rows"]
        for table in tables:
            for row in self.sql(f"show partitions {table}").collect():
                load_id = int(row[0].split("=", 1)[1])
                if load_id not in loaded:
                    self.sql(f"alter table {table} drop if exists partition (_load_id={load_id})")
            self._delete_unregistered_attempts(table)

    def _delete_unregistered_attempts(self, table: str) -> None:
        from pyarrow import fs

        filesystem, root = self.filesystem(self.location(table))
        infos = filesystem.get_file_info(fs.FileSelector(f"{root}/_attempts", allow_not_found=True))
        registered = {
            int(row[0].split("=", 1)[1]): None
            for row in self.sql(f"show partitions {table}").collect()
        }
        for info in infos:
            load_id = int(info.base_name.split("-", 1)[0])
            if load_id in registered and registered[load_id] is None:
                registered[load_id] = self._partition_path(table, load_id)
            if load_id not in registered or registered[load_id] != info.path:
                filesystem.delete_dir(info.path)

    def _partition_path(self, table: str, load_id: int) -> str:
        rows = self.sql(f"describe formatted {table} partition (_load_id={load_id})").collect()
        return self.filesystem(next(r[1] for r in rows if r[0] == "Location"))[1]

    # -- one batch -----------------------------------------------------------------------------

    def load_source(self, source: SourceFile, progress: FileProgress | None = None) -> FileReport:
        """Land one checked file as one batch (see the module's steps), or skip it."""
        started = time.perf_counter()
        started_at = dt.datetime.now(dt.UTC)
        on_bytes = (lambda done: progress(source, done)) if progress is not None else None
        with self.turn():
            existing = self.loaded_batch(source.batch_id)
            if existing is not None:
                return skipped(source, existing, started, on_bytes)
            old = self.batches_to_supersede(source)
            load_id = self.next_load_id()
            try:
                counts = self._write_and_register(source, load_id, on_bytes)
                check_accounted(source, counts)
                finished_at = dt.datetime.now(dt.UTC)
                self.append_ledger(
                    [
                        _ledger_row(
                            load_id,
                            source,
                            "loaded",
                            started_at,
                            finished_at,
                            counts=counts,
                            notes=pg_ledger.load_notes(source),
                        ),
                        *(self._superseded_row(b.load_id, load_id) for b in old),
                    ]
                )
            except Exception as exc:
                self._record_failure(load_id, source, started_at, exc)
                raise
            if old:  # the superseded batches' files go (a killed load's went at the start)
                self.sweep((source.kind,))
        return loaded(source, counts, load_id, old, started)

    def _superseded_row(self, load_id: int, by_load_id: int) -> dict[str, Any]:
        """The next state of a loaded batch: its row as it is, with status 'superseded'."""
        names = [name for name, _ in LEDGER_COLUMNS]
        row = self.sql(
            f"select {', '.join(names)} from audit.load_batches where load_id = :id", id=load_id
        ).collect()[0]
        state = dict(zip(names, row))
        for key in ("started_at", "finished_at"):
            if state[key] is not None and state[key].tzinfo is None:
                state[key] = state[key].replace(tzinfo=dt.UTC)  # the session time zone is UTC
        return {**state, "status": "superseded", "superseded_by": by_load_id}

    def _record_failure(
        self, load_id: int, source: SourceFile, started_at: dt.datetime, exc: Exception
    ) -> None:
        # Best effort, like PostgreSQL's: the failure itself is what the caller must see.
        try:
            error = f"{type(exc).__name__}: {exc}"[:4000]
            self.append_ledger(
                [
                    _ledger_row(
                        load_id, source, "failed", started_at, dt.datetime.now(dt.UTC), error=error
                    )
                ]
            )
        except Exception as ledger_error:  # noqa: BLE001
            logging.getLogger(__name__).warning(
                "could not record the failed load %s of %s: %s", load_id, source.name, ledger_error
            )

    def _attempt_path(self, table: str, load_id: int, attempt: str) -> tuple[Any, str]:
        filesystem, root = self.filesystem(self.location(table))
        path = f"{root}/_attempts/{load_id}-{attempt}"
        filesystem.create_dir(path)
        return filesystem, path

    def _write_and_register(
        self, source: SourceFile, load_id: int, on_bytes: Callable[[int], None] | None
    ) -> CopyCounts:
        attempt = uuid.uuid4().hex[:12]
        written: dict[str, str] = {}
        with QuarantineSpool(source.batch_id, source.name) as spool:
            if source.kind == "content":
                lines_read = self._write_content(source, load_id, attempt, spool, written)
                if on_bytes is not None:
                    on_bytes(source.size)
            else:
                lines_read = self._write_csv(source, load_id, attempt, spool, written, on_bytes)
            self._write_quarantine(spool, load_id, attempt, written)
        # What Spark reads back, not what the writer believes it wrote.
        counted = {table: self.spark.read.parquet(path).count() for table, path in written.items()}
        main = [t.table for t in LANDING[source.kind]][: 2 if source.kind == "content" else 1]
        counts = CopyCounts(
            lines_read, sum(counted[t] for t in main), counted["audit.quarantine_rows"]
        )
        check_accounted(source, counts)
        for table, path in written.items():
            self.sql(f"alter table {table} drop if exists partition (_load_id={load_id})")
            self.sql(f"alter table {table} add partition (_load_id={load_id}) location '{path}'")
        return counts

    def _write_csv(
        self,
        source: SourceFile,
        load_id: int,
        attempt: str,
        spool: QuarantineSpool,
        written: dict[str, str],
        on_bytes: Callable[[int], None] | None,
    ) -> int:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        table = LANDING[source.kind][0]
        columns = (*table.stored_columns, ("_load_id", "int"))
        names = [name for name, _ in columns]
        read_options = pacsv.ReadOptions(column_names=names)
        parse_options = pacsv.ParseOptions(
            delimiter=",", quote_char=False, escape_char="\\", newlines_in_values=True
        )
        convert_options = pacsv.ConvertOptions(
            column_types=arrow_schema(columns),
            strings_can_be_null=False,
            include_columns=names[:-1],  # _load_id is the partition, not a column of the files
        )
        schema = arrow_schema(table.stored_columns)
        filesystem, path = self._attempt_path(table.table, load_id, attempt)
        converter = BlockConverter(
            CSV_LAYOUTS[source.kind], load_id, escape=_escape, decimal_digits=DECIMAL_DIGITS
        )
        with _parquet_file(filesystem, path, schema) as writer:
            pending: list[Any] = []

            def flush() -> None:
                if pending:
                    writer.write_table(pa.concat_tables(pending), ROWS_PER_GROUP)
                    pending.clear()

            def emit(rows: bytes) -> None:
                block = pacsv.read_csv(
                    io.BytesIO(rows),
                    read_options=read_options,
                    parse_options=parse_options,
                    convert_options=convert_options,
                )
                pending.append(block.cast(schema))
                # Blocks are ≈ 1 MiB; a row group of ROWS_PER_GROUP rows reads faster.
                if sum(t.num_rows for t in pending) >= ROWS_PER_GROUP:
                    flush()

            check_unchanged(source)
            lines_read = convert_csv(source, converter, spool, emit, on_bytes)
            check_unchanged(source)
            flush()
        written[table.table] = path
        return lines_read

    def _write_content(
        self,
        source: SourceFile,
        load_id: int,
        attempt: str,
        spool: QuarantineSpool,
        written: dict[str, str],
    ) -> int:
        import pyarrow as pa

        items, flat = flatten_content(source, spool)
        rows_of = {
            MOVIES: flat.movies,
            SERIES: flat.series,
            GENRES: flat.genres,
            SEASONS: flat.seasons,
        }
        for table, rows in rows_of.items():
            schema = arrow_schema(table.stored_columns)
            decimal = [
                i for i, (_, kind) in enumerate(table.stored_columns) if kind == SPARK_DECIMAL
            ]
            rows = [_with_decimals(row, decimal) for row in rows] if decimal else rows
            arrays = [
                pa.array([row[i] for row in rows], type=field.type)
                for i, field in enumerate(schema)
            ]
            filesystem, path = self._attempt_path(table.table, load_id, attempt)
            with _parquet_file(filesystem, path, schema) as writer:
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            written[table.table] = path
        return items

    def _write_quarantine(
        self, spool: QuarantineSpool, load_id: int, attempt: str, written: dict[str, str]
    ) -> None:
        import pyarrow as pa

        columns = tuple(QUARANTINE_TYPES.items())
        schema = arrow_schema(columns)
        detected_at = dt.datetime.now(dt.UTC)
        filesystem, path = self._attempt_path("audit.quarantine_rows", load_id, attempt)
        with _parquet_file(filesystem, path, schema) as writer:
            chunk: list[dict[str, Any]] = []
            for position, values in enumerate(spool.rows()):
                row = dict(zip(QUARANTINE_COLUMNS, values))
                row["source_line"] = int(row["source_line"]) if row["source_line"] else None
                row["item_index"] = int(row["item_index"]) if row["item_index"] else None
                row["quarantine_id"] = load_id * QUARANTINE_ID_STRIDE + position + 1
                row["detected_at"] = detected_at
                chunk.append(row)
                if len(chunk) >= ROWS_PER_GROUP:
                    writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
                    chunk = []
            writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
        written["audit.quarantine_rows"] = path


@contextmanager
def _parquet_file(filesystem: Any, folder: str, schema: Any) -> Iterator[Any]:
    """A streaming Parquet writer of the one file of an attempt folder."""
    import pyarrow.parquet as pq

    with (
        filesystem.open_output_stream(f"{folder}/part-00000.parquet") as out,
        pq.ParquetWriter(out, schema) as writer,
    ):
        yield writer


def _with_decimals(row: tuple[Any, ...], positions: list[int]) -> tuple[Any, ...]:
    """JSON numbers as the landing's decimal(38, 15): the shortest repr of a float, then rounded
    half-even to 15 places (what PostgreSQL's numeric cast of the same text keeps, to 15)."""
    quantum = Decimal(1).scaleb(-DECIMAL_DIGITS[1])
    values = list(row)
    for i in positions:
        values[i] = Decimal(repr(values[i])).quantize(quantum, rounding=ROUND_HALF_EVEN)
    return tuple(values)


def _ledger_row(
    load_id: int,
    source: SourceFile,
    status: str,
    started_at: dt.datetime,
    finished_at: dt.datetime,
    counts: CopyCounts | None = None,
    notes: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    return {
        "load_id": load_id,
        "batch_id": source.batch_id,
        "source_file": source.name,
        "source_path": str(source.path.resolve()),
        "file_kind": source.kind,
        "file_bytes": source.size,
        "lines_read": counts.lines_read if counts else None,
        "rows_loaded": counts.rows_loaded if counts else None,
        "rows_quarantined": counts.rows_quarantined if counts else None,
        "started_at": started_at,
        "finished_at": finished_at,
        "status": status,
        "superseded_by": None,
        "error": error,
        "notes": notes,
    }


def connect(remote: str) -> Any:
    """A Spark Connect session on ``remote`` whose times are UTC, as the warehouse stores them."""
    from streamlytics.services.spark import spark_home

    spark_home()  # a clear message when the spark extra is missing
    from pyspark.sql import SparkSession

    session = SparkSession.builder.remote(remote).getOrCreate()
    session.conf.set("spark.sql.session.timeZone", "UTC")
    return session


def lock_file(cfg: Settings) -> Path:
    """The file loaders of this state folder take turns on."""
    return cfg.state_dir / "spark" / "ingest.lock"


def open_landing(remote: str, lock: Path, database_prefix: str = "") -> SparkLanding:
    return SparkLanding(connect(remote), lock, database_prefix)


def ingest_directory(
    data_dir: Path,
    remote: str,
    lock_file: Path,
    progress: FileProgress | None = None,
    database_prefix: str = "",
) -> IngestReport:
    """:func:`streamlytics.ingest.ingest_directory` on Spark: every file of ``data_dir`` as one
    batch each. Raises PreflightError (and writes nothing) if any file is unloadable."""
    sources = preflight(Path(data_dir))
    landing = open_landing(remote, lock_file, database_prefix)
    landing.prepare()
    files = [landing.load_source(source, progress) for source in sources]
    return IngestReport(str(Path(data_dir).resolve()), files)


__all__ = ["InvariantError", "SparkLanding", "ingest_directory", "schema_statements"]
