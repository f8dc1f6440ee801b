"""What a database holds, as comparable values: per-table checksums and record accounting.

Shared by the fault-corpus and re-run/crash tests. Everything here reads; nothing writes.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2

# Columns that record *when* or *in which attempt* something happened, never *what* landed.
# Two databases loaded from the same files differ in them legitimately: timestamps of the
# attempt, and surrogate keys drawn from a sequence (a killed attempt consumes sequence values
# in its rolled-back transaction: PostgreSQL sequences are not transactional). Keys that point
# at a ledger row are replaced by that row's batch id (the sha256 of the file), which is stable.
ATTEMPT_COLUMNS = frozenset(
    {"started_at", "finished_at", "detected_at", "quarantine_id", "load_id"}
)
LEDGER_KEYS = frozenset({"_load_id", "superseded_by"})


def connect(url: str):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    return conn


def one(url: str, sql: str, params: tuple = ()) -> object:
    with contextlib.closing(connect(url)) as conn, conn.cursor() as cur:
        cur.execute(sql, params or None)
        return cur.fetchone()[0]


def rows(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with contextlib.closing(connect(url)) as conn, conn.cursor() as cur:
        cur.execute(sql, params or None)
        return cur.fetchall()


def base_tables(cur, schemas: tuple[str, ...]) -> list[tuple[str, str]]:
    cur.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_type = 'BASE TABLE' and table_schema = any(%s) order by 1, 2",
        (list(schemas),),
    )
    return cur.fetchall()


def _columns(cur, schema: str, table: str) -> list[str]:
    cur.execute(
        "select column_name from information_schema.columns where table_schema = %s "
        "and table_name = %s order by ordinal_position",
        (schema, table),
    )
    return [r[0] for r in cur.fetchall()]


def _checksum(cur, relation: str, expressions: list[str]) -> tuple[int, str]:
    row = f"row({', '.join(expressions)})::text"
    cur.execute(
        f"select count(*), md5(coalesce(string_agg({row}, E'\\n' order by {row}), '')) from {relation} as t"
    )
    count, digest = cur.fetchone()
    return int(count), str(digest)


def table_checksums(
    url: str, schemas: tuple[str, ...] = ("raw", "audit", "core", "marts")
) -> dict[str, tuple[int, str]]:
    """Every base table of ``schemas``: (row count, md5 of all its rows, every column, sorted)."""
    with contextlib.closing(connect(url)) as conn, conn.cursor() as cur:
        return {
            f"{schema}.{table}": _checksum(
                cur, f'"{schema}"."{table}"', [f't."{c}"' for c in _columns(cur, schema, table)]
            )
            for schema, table in base_tables(cur, schemas)
        }


def content_checksums(
    url: str, schemas: tuple[str, ...] = ("raw", "audit")
) -> dict[str, tuple[int, str]]:
    """Like :func:`table_checksums`, but blind to the attempt (see ATTEMPT_COLUMNS / LEDGER_KEYS).

    Equal values mean both databases hold the same landed rows, quarantined rows and ledger
    outcomes, whatever attempts (killed or not) it took to get there.
    """
    with contextlib.closing(connect(url)) as conn, conn.cursor() as cur:
        out = {}
        for schema, table in base_tables(cur, schemas):
            expressions = []
            for column in _columns(cur, schema, table):
                if column in LEDGER_KEYS:
                    expressions.append(
                        f'(select b.batch_id from audit.load_batches as b where b.load_id = t."{column}")'
                    )
                elif column not in ATTEMPT_COLUMNS:
                    expressions.append(f't."{column}"')
            out[f"{schema}.{table}"] = _checksum(cur, f'"{schema}"."{table}"', expressions)
        return out


def csv_records(path: Path) -> int:
    """Data records of a CSV export: physical lines after the header (a last line needs no LF)."""
    data = path.read_bytes()
    if not data:
        return 0
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    return lines - 1


def json_records(path: Path) -> int:
    doc = json.loads(path.read_text(encoding="utf-8-sig"))
    return len(doc["movies"]) + len(doc["series"])


def records_in(path: Path) -> int:
    return json_records(path) if path.suffix == ".json" else csv_records(path)


_LANDING = {
    "users.csv": ("raw.users_rows",),
    "content.json": ("raw.movies_rows", "raw.series_rows"),
}


def landing_tables(file_name: str) -> tuple[str, ...]:
    return _LANDING.get(file_name, ("raw.viewing_sessions_rows",))


def assert_ingest_accounted(url: str, data_dir: Path) -> None:
    """For every input file: records in the file = ledger lines_read = landed + quarantined."""
    files = sorted(
        p for p in data_dir.iterdir() if p.suffix in (".csv", ".json") and p.name != "manifest.json"
    )
    with contextlib.closing(connect(url)) as conn, conn.cursor() as cur:
        for path in files:
            cur.execute(
                "select load_id, batch_id, lines_read, rows_loaded, rows_quarantined from audit.load_batches "
                "where source_file = %s and status = 'loaded'",
                (path.name,),
            )
            found = cur.fetchall()
            assert len(found) == 1, f"{path.name}: expected one loaded batch, found {found}"
            load_id, batch_id, lines_read, rows_loaded, rows_quarantined = found[0]
            landed = 0
            for table in landing_tables(path.name):
                cur.execute(f"select count(*) from {table} where _load_id = %s", (load_id,))
                landed += cur.fetchone()[0]
            cur.execute(
                "select count(*) from audit.quarantine where batch_id = %s and stage = 'ingest'",
                (batch_id,),
            )
            quarantined = cur.fetchone()[0]
            records = records_in(path)
            assert (lines_read, rows_loaded, rows_quarantined) == (records, landed, quarantined), (
                path.name
            )
            assert records == landed + quarantined, (
                f"{path.name}: {records} in, {landed} landed + {quarantined} quarantined"
            )


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextlib.contextmanager
def scratch_database(admin_url: str, prefix: str = "test") -> Iterator[str]:
    """A new empty database on the server of ``admin_url``, dropped afterwards (for module fixtures)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = connect(admin_url)
    try:
        with admin.cursor() as cur:
            cur.execute(f'create database "{name}"')
        yield with_database(admin_url, name)
    finally:
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{name}" with (force)')
        admin.close()
