"""Loading into a real PostgreSQL: idempotence, increments, supersession, quarantine, atomicity."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg2
import pytest
from _ingest_files import (
    SESSIONS,
    SESSIONS_HEADER,
    USERS,
    movie,
    series,
    write_csv,
    write_dataset,
)

from streamlytics.ingest import InvariantError, ingest_directory, load_raw

RAW_VIEWS = ("users", "viewing_sessions", "movies", "series", "content_genres", "series_seasons")


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    conn.close()
    return rows


def table_fingerprints(url: str) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent checksum of every raw view and audit table."""
    out = {}
    for name in (*(f"raw.{v}" for v in RAW_VIEWS), "audit.load_batches", "audit.quarantine"):
        [(count, checksum)] = query(
            url,
            f"select count(*), coalesce(md5(string_agg(t::text, '|' order by t::text)), '') from {name} t",
        )
        out[name] = (count, checksum)
    return out


def test_loads_every_file_with_lineage_and_counts(tmp_path: Path, pg_url: str) -> None:
    write_dataset(tmp_path)
    report = ingest_directory(tmp_path, pg_url)
    assert [
        (f.file, f.status, f.lines_read, f.rows_loaded, f.rows_quarantined) for f in report.files
    ] == [
        ("users.csv", "loaded", 3, 3, 0),
        ("content.json", "loaded", 2, 2, 0),
        ("viewing_sessions.csv", "loaded", 3, 3, 0),
    ]
    sessions = query(
        pg_url,
        "select session_id, watch_date::text, completion_percentage::text, _source_file, "
        "_source_line, _batch_id from raw.viewing_sessions order by _source_line",
    )
    batch = report.files[2].batch_id
    assert sessions == [
        ("S000001", "2024-02-04", "36.1", "viewing_sessions.csv", 2, batch),
        ("S000002", "2024-07-13", "88.8", "viewing_sessions.csv", 3, batch),
        ("S000003", "2024-02-29", "90.0", "viewing_sessions.csv", 4, batch),
    ]
    assert query(pg_url, "select count(*) from raw.users where _loaded_at is null") == [(0,)]
    assert query(pg_url, "select title from raw.movies") == [("A title, with a comma",)]
    assert query(
        pg_url,
        "select content_id, content_type, genre, genre_position from raw.content_genres "
        "order by content_id, genre_position",
    ) == [
        ("M001", "movie", "Action", 1),
        ("M001", "movie", "Drama", 2),
        ("S001", "series", "Comedy", 1),
    ]
    assert query(
        pg_url,
        "select source_file, status, lines_read, rows_loaded, rows_quarantined "
        "from audit.load_batches order by load_id",
    ) == [
        ("users.csv", "loaded", 3, 3, 0),
        ("content.json", "loaded", 2, 2, 0),
        ("viewing_sessions.csv", "loaded", 3, 3, 0),
    ]


def test_loading_the_same_files_again_changes_nothing(tmp_path: Path, pg_url: str) -> None:
    write_dataset(tmp_path, sessions=[*SESSIONS, "S000004,U0001,M001,2024-02-30,18,36.1,Mobile,HD"])
    ingest_directory(tmp_path, pg_url)
    before = table_fingerprints(pg_url)
    report = ingest_directory(tmp_path, pg_url)
    assert [f.status for f in report.files] == ["skipped"] * 3
    assert (
        report.files[2].rows_quarantined == 1
    )  # the skipped batch still reports its earlier counts
    assert table_fingerprints(pg_url) == before


def test_a_new_sessions_file_appends_its_batch(tmp_path: Path, pg_url: str) -> None:
    write_dataset(tmp_path)
    ingest_directory(tmp_path, pg_url)
    write_csv(
        tmp_path / "viewing_sessions_2024-09.csv",
        SESSIONS_HEADER,
        [
            "S000004,U0001,M001,2024-09-01,18,36.1,Mobile,HD",
            "S000005,U0002,S001,2024-09-02,20,50.0,Tablet,SD",
        ],
    )
    report = ingest_directory(tmp_path, pg_url)
    assert [(f.file, f.status) for f in report.files] == [
        ("users.csv", "skipped"),
        ("content.json", "skipped"),
        ("viewing_sessions.csv", "skipped"),
        ("viewing_sessions_2024-09.csv", "loaded"),
    ]
    assert query(
        pg_url, "select _source_file, count(*) from raw.viewing_sessions group by 1 order by 1"
    ) == [("viewing_sessions.csv", 3), ("viewing_sessions_2024-09.csv", 2)]


def test_new_content_under_a_loaded_sessions_name_replaces_that_file_only(
    tmp_path: Path, pg_url: str
) -> None:
    write_dataset(tmp_path)
    write_csv(
        tmp_path / "viewing_sessions_2024-09.csv",
        SESSIONS_HEADER,
        ["S000004,U0001,M001,2024-09-01,18,36.1,Mobile,HD"],
    )
    first = ingest_directory(tmp_path, pg_url)
    corrected = [
        *SESSIONS[:2],
        "S000003,U0003,M001,2024-03-01,100,90.0,Gaming Console,SD",
        "bad line",
    ]
    write_csv(tmp_path / "viewing_sessions.csv", SESSIONS_HEADER, corrected)
    report = ingest_directory(tmp_path, pg_url)
    replaced = report.files[2]
    assert (replaced.status, replaced.superseded) == ("loaded", (first.files[2].batch_id,))
    assert report.files[3].status == "skipped"
    assert query(
        pg_url,
        "select session_id, watch_date::text from raw.viewing_sessions "
        "where _source_file = 'viewing_sessions.csv' order by 1",
    ) == [("S000001", "2024-02-04"), ("S000002", "2024-07-13"), ("S000003", "2024-03-01")]
    assert query(
        pg_url,
        "select count(*) from raw.viewing_sessions where _source_file <> 'viewing_sessions.csv'",
    ) == [(1,)]
    assert query(
        pg_url,
        "select batch_id, status, superseded_by from audit.load_batches "
        "where source_file = 'viewing_sessions.csv' order by load_id",
    ) == [
        (first.files[2].batch_id, "superseded", replaced.load_id),
        (replaced.batch_id, "loaded", None),
    ]
    assert query(pg_url, "select batch_id, source_line from audit.quarantine") == [
        (replaced.batch_id, 5)
    ]


def test_a_new_users_snapshot_supersedes_the_old_one_with_its_quarantine(
    tmp_path: Path, pg_url: str
) -> None:
    write_dataset(tmp_path, users=[*USERS, "U0004,x,Peru,Basic,2023-01-01,1.0"])
    first = ingest_directory(tmp_path, pg_url).files[0]
    write_dataset(tmp_path, users=USERS[:2])
    second = ingest_directory(tmp_path, pg_url).files[0]
    assert second.superseded == (first.batch_id,)
    assert query(pg_url, "select user_id, _batch_id from raw.users order by 1") == [
        ("U0001", second.batch_id),
        ("U0002", second.batch_id),
    ]
    assert query(pg_url, "select count(*) from audit.quarantine") == [(0,)]
    assert query(
        pg_url,
        "select status, lines_read, rows_quarantined from audit.load_batches "
        "where file_kind = 'users' order by load_id",
    ) == [("superseded", 4, 1), ("loaded", 2, 0)]


def test_quarantined_lines_carry_reason_message_and_raw_text(tmp_path: Path, pg_url: str) -> None:
    bad = {
        3: (
            "S000002,U0002,S001,2024-02-30,25,88.8,Mobile,HD",
            "bad_date",
            "watch_date",
            "2024-02-30",
        ),
        4: (
            "S000003,U0003,M001,2024-02-29,100min,90.0,Mobile,SD",
            "bad_number",
            "watch_duration_minutes",
            "100min",
        ),
        5: ("S000004,U0003,M001,2024-02-29,100,90.0,Mobile", "field_count", None, None),
        6: ("S000005,,M001,2024-02-29,100,90.0,Mobile,SD", "empty_required", "user_id", ""),
    }
    write_dataset(tmp_path, sessions=[SESSIONS[0], *(b[0] for b in bad.values()), SESSIONS[1]])
    report = ingest_directory(tmp_path, pg_url)
    assert (report.files[2].rows_loaded, report.files[2].rows_quarantined) == (2, 4)
    rows = query(
        pg_url,
        "select source_line, reason_code, field, value, raw_text, message, stage, batch_id "
        "from audit.quarantine order by source_line",
    )
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        (line, reason, field, value, raw) for line, (raw, reason, field, value) in bad.items()
    ]
    assert {r[6] for r in rows} == {"ingest"} and {r[7] for r in rows} == {report.files[2].batch_id}
    assert rows[0][5] == (
        "viewing_sessions.csv line 3: field watch_date = '2024-02-30' is not a calendar date "
        "(day is out of range for month)"
    )
    assert rows[2][5].startswith("viewing_sessions.csv line 5: expected 8 comma-separated fields")
    assert query(pg_url, "select _source_line from raw.viewing_sessions order by 1") == [(2,), (7,)]


def test_bad_content_items_are_quarantined_with_item_index_and_line(
    tmp_path: Path, pg_url: str
) -> None:
    movies = [movie("M001"), movie("M002", genre="Action"), movie("M003")]
    series_items = [
        series("S001", seasons=3),
        {k: v for k, v in series("S002").items() if k != "total_views"},
    ]
    write_dataset(tmp_path, movies=movies, series_items=series_items)
    report = ingest_directory(tmp_path, pg_url)
    assert (
        report.files[1].lines_read,
        report.files[1].rows_loaded,
        report.files[1].rows_quarantined,
    ) == (5, 3, 2)
    text = (tmp_path / "content.json").read_text().split("\n")
    rows = query(
        pg_url,
        "select source_line, item_index, reason_code, field, value, message, raw_text "
        "from audit.quarantine order by source_line",
    )
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [
        (1, "json_wrong_type", "genre", '"Action"'),
        (1, "json_missing_key", "total_views", None),
    ]
    for line, *_rest, raw in rows:
        assert text[line - 1].strip() == "{" and json.loads(raw)["content_id"] in {"M002", "S002"}
    assert rows[0][5] == (
        f"content.json line {rows[0][0]} (movies[1], content_id M002): field genre = "
        "'\"Action\"' must be a list of strings, found a string"
    )
    # episodes_per_season disagreeing with seasons lands as it is: dbt staging flags it.
    assert query(pg_url, "select content_id, seasons from raw.series") == [("S001", 3)]
    assert query(
        pg_url, "select season_number, episode_count from raw.series_seasons order by 1"
    ) == [(1, 10), (2, 12)]
    assert query(pg_url, "select content_id, _item_index from raw.movies order by 1") == [
        ("M001", 0),
        ("M003", 2),
    ]


def test_a_broken_invariant_rolls_the_batch_back_and_is_recorded(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_dataset(tmp_path)
    real_copy_csv = load_raw.copy_csv

    def losing_one_row(*args, **kwargs):  # a loader bug that would silently lose a record
        counts = real_copy_csv(*args, **kwargs)
        return load_raw.CopyCounts(
            counts.lines_read, counts.rows_loaded - 1, counts.rows_quarantined
        )

    monkeypatch.setattr(load_raw, "copy_csv", losing_one_row)
    with pytest.raises(InvariantError, match="3 records read but 2 loaded"):
        ingest_directory(tmp_path, pg_url)
    assert query(pg_url, "select count(*) from raw.users_rows") == [(0,)]
    assert query(
        pg_url,
        "select file_kind, status, error like '%%InvariantError%%' from audit.load_batches "
        "order by load_id",
    ) == [("users", "failed", True)]
    monkeypatch.setattr(load_raw, "copy_csv", real_copy_csv)
    report = ingest_directory(tmp_path, pg_url)
    assert [f.status for f in report.files] == ["loaded"] * 3


def test_a_file_changed_after_preflight_is_not_loaded(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlytics.ingest import SourceChangedError, pipeline

    write_dataset(tmp_path)
    real_preflight = pipeline.preflight

    def preflight_then_edit(data_dir):
        sources = real_preflight(data_dir)
        write_csv(
            tmp_path / "users.csv",
            "user_id,age,country,subscription_type,registration_date,total_watch_time_hours",
            USERS[:1],
        )
        return sources

    monkeypatch.setattr(pipeline, "preflight", preflight_then_edit)
    with pytest.raises(SourceChangedError, match="users.csv changed"):
        ingest_directory(tmp_path, pg_url)
    assert query(pg_url, "select count(*) from raw.users") == [(0,)]


def test_identical_bytes_under_another_name_are_not_loaded_twice(
    tmp_path: Path, pg_url: str
) -> None:
    write_dataset(tmp_path)
    (tmp_path / "viewing_sessions_copy.csv").write_bytes(
        (tmp_path / "viewing_sessions.csv").read_bytes()
    )
    report = ingest_directory(tmp_path, pg_url)
    assert [f.status for f in report.files] == ["loaded", "loaded", "loaded", "skipped"]
    assert query(pg_url, "select count(*) from raw.viewing_sessions") == [(3,)]


def test_a_failure_while_feeding_copy_keeps_its_own_type(pg_url: str) -> None:
    """psycopg2 reports it as QueryCanceled, a connection-class error the flow would retry."""
    conn = psycopg2.connect(pg_url)
    try:
        with conn.cursor() as cur:
            cur.execute("create temporary table t (a integer)")

            def produce(emit):
                emit(b"1\n2\n")
                raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

            with pytest.raises(UnicodeDecodeError):
                load_raw.copy_from_producer(cur, "copy t from stdin", produce)
    finally:
        conn.close()


def test_going_back_to_an_earlier_snapshot_loads_it_again(tmp_path: Path, pg_url: str) -> None:
    write_dataset(tmp_path)
    first = ingest_directory(tmp_path, pg_url).files[0]
    write_dataset(tmp_path, users=USERS[:1])
    ingest_directory(tmp_path, pg_url)
    write_dataset(tmp_path)  # the first users.csv again, byte for byte
    again = ingest_directory(tmp_path, pg_url).files[0]
    assert (again.status, again.batch_id) == ("loaded", first.batch_id)
    assert query(pg_url, "select count(*) from raw.users") == [(3,)]
    assert query(
        pg_url, "select status from audit.load_batches where file_kind = 'users' order by load_id"
    ) == [("superseded",), ("superseded",), ("loaded",)]


def test_concurrent_ingests_of_the_same_directory_load_each_batch_once(
    tmp_path: Path, pg_url: str
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    write_dataset(tmp_path)
    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda _: ingest_directory(tmp_path, pg_url), range(2)))
    statuses = sorted(f.status for report in reports for f in report.files)
    assert statuses == ["loaded"] * 3 + ["skipped"] * 3
    assert query(pg_url, "select count(*) from raw.viewing_sessions") == [(3,)]
    assert query(pg_url, "select count(*) from audit.load_batches") == [(3,)]
