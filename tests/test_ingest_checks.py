"""Preflight: every unusable input is refused with its file, line and problem (no database needed)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from _ingest_files import SESSIONS, SESSIONS_HEADER, USERS_HEADER, write_csv, write_dataset

from streamlytics.ingest import PreflightError, preflight


def problems_of(data_dir: Path) -> list[str]:
    with pytest.raises(PreflightError) as caught:
        preflight(data_dir)
    return [str(p) for p in caught.value.problems]


def test_valid_directory_gives_batches_with_content_hash_and_record_counts(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    extra = write_csv(tmp_path / "viewing_sessions_2024-09.csv", SESSIONS_HEADER, SESSIONS[:1])
    sources = preflight(tmp_path)
    assert [(s.name, s.kind, s.records) for s in sources] == [
        ("users.csv", "users", 3),
        ("content.json", "content", 2),
        ("viewing_sessions.csv", "viewing_sessions", 3),
        ("viewing_sessions_2024-09.csv", "viewing_sessions", 1),
    ]
    assert sources[3].batch_id == hashlib.sha256(extra.read_bytes()).hexdigest()


def test_missing_files_are_each_named(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    (tmp_path / "users.csv").unlink()
    (tmp_path / "viewing_sessions.csv").unlink()
    found = problems_of(tmp_path)
    assert any(p.startswith("users.csv: is missing") for p in found)
    assert any(p.startswith("viewing_sessions.csv: is missing") for p in found)


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    (tmp_path / "users.csv").unlink()
    (tmp_path / "users.csv").mkdir()  # a directory cannot be read as a file, even by root
    assert any(p.startswith("users.csv: cannot be read") for p in problems_of(tmp_path))


def test_byte_order_mark_is_accepted_and_counted_in_the_batch(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    plain = {s.name: s for s in preflight(tmp_path)}
    for name in ("users.csv", "viewing_sessions.csv", "content.json"):
        path = tmp_path / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    for source in preflight(tmp_path):
        assert source.byte_order_mark, source.name
        assert source.records == plain[source.name].records
        assert source.size == plain[source.name].size + 3  # the batch is the file's bytes
        assert source.batch_id != plain[source.name].batch_id


def test_problem_after_a_byte_order_mark_is_placed_as_an_editor_shows_it(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    path = tmp_path / "users.csv"
    header = path.read_bytes().split(b"\n", 1)[0]
    path.write_bytes(b"\xef\xbb\xbf" + header.replace(b"age", b"\xe9ge", 1) + b"\n")
    [problem] = problems_of(tmp_path)
    column = header.index(b"age") + 1  # the mark is not a column of line 1
    assert problem.startswith(f"users.csv line 1, column {column}: is not valid UTF-8 (byte 0xe9)")


def test_a_file_holding_only_a_byte_order_mark_is_refused(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    (tmp_path / "users.csv").write_bytes(b"\xef\xbb\xbf")
    [problem] = problems_of(tmp_path)
    assert problem.startswith("users.csv line 1: has only a byte-order mark; expected the header")


def test_non_utf8_byte_is_reported_with_its_line_and_column(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    path = tmp_path / "viewing_sessions.csv"
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"Mobile", b"M\xe9bile")  # Latin-1 é on line 3
    path.write_bytes(b"\n".join(lines))
    [problem] = problems_of(tmp_path)
    column = lines[2].index(b"\xe9") + 1
    assert problem == (
        f"viewing_sessions.csv line 3, column {column}: is not valid UTF-8 (byte 0xe9); "
        "re-export the file as UTF-8"
    )


def test_non_utf8_byte_far_into_a_big_file_is_located(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small read chunks make the bad byte land well after the first chunk boundary.
    monkeypatch.setattr("streamlytics.ingest.checks.CHUNK_BYTES", 64)
    lines = [f"S{i:06d},U0001,M001,2024-02-04,18,36.1,Smart TV,4K" for i in range(1, 200)]
    lines[150] = lines[150].replace("Smart", "Sm\udcffrt")
    path = tmp_path / "viewing_sessions.csv"
    path.write_bytes(
        (SESSIONS_HEADER + "\n" + "\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
    )
    write_dataset(tmp_path / "other")
    for name in ("users.csv", "content.json"):
        (tmp_path / name).write_bytes((tmp_path / "other" / name).read_bytes())
    [problem] = problems_of(tmp_path)
    column = lines[150].index("\udcff") + 1
    assert problem.startswith(
        f"viewing_sessions.csv line 152, column {column}: is not valid UTF-8 (byte 0xff)"
    )


def test_nul_byte_is_refused(tmp_path: Path) -> None:
    write_dataset(
        tmp_path,
        users=["U0001,34,Mexico,Basic,2023-01-05,120.5", "U0002,29,Ch\x00ile,Basic,2023-01-05,1.0"],
    )
    assert problems_of(tmp_path) == [
        "users.csv line 3, column 12: contains a NUL byte; this is not a text file"
    ]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            "user_id,age,country,subscription_type,registration_date",
            "users.csv line 1, column 56: header missing column(s) total_watch_time_hours",
        ),
        (
            "user_id,country,age,subscription_type,registration_date,total_watch_time_hours",
            "users.csv line 1, column 9: header has the right columns in the wrong order",
        ),
        (
            "user_id,Age,country,subscription_type,registration_date,total_watch_time_hours",
            "users.csv line 1, column 9: header missing column(s) age; unexpected column(s) 'Age'",
        ),
    ],
)
def test_wrong_header_names_the_column(tmp_path: Path, header: str, expected: str) -> None:
    write_dataset(tmp_path)
    write_csv(tmp_path / "users.csv", header, [])
    [problem] = problems_of(tmp_path)
    assert problem.startswith(expected)
    assert f"expected {USERS_HEADER!r}" in problem


def test_empty_csv_is_refused(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    (tmp_path / "viewing_sessions.csv").write_bytes(b"")
    [problem] = problems_of(tmp_path)
    assert problem.startswith("viewing_sessions.csv line 1: is empty; expected the header line")


def test_header_only_csv_is_loadable_with_zero_records(tmp_path: Path) -> None:
    write_dataset(tmp_path, sessions=[])
    assert preflight(tmp_path)[-1].records == 0


def test_crlf_header_is_accepted(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    (tmp_path / "users.csv").write_bytes(
        USERS_HEADER.encode() + b"\r\nU0001,34,Mexico,Basic,2023-01-05,1.5\r\n"
    )
    assert preflight(tmp_path)[0].records == 1


def test_json_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    (tmp_path / "content.json").write_text(
        '{\n  "movies": [\n    {"content_id": "M001",}\n  ],\n  "series": []\n}\n'
    )
    assert problems_of(tmp_path) == [
        "content.json line 3, column 27: is not valid JSON: Expecting property name enclosed in double quotes"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[1, 2]", "content.json line 1, column 1: the top level must be an object"),
        ('{"movies": []}', 'content.json line 1, column 1: top-level key "series" is missing'),
        (
            '{"movies": [],\n "series": {"a": 1}}',
            'content.json line 2, column 12: "series" must be a list of items, found an object',
        ),
        (
            '{"movies": [],\n "series": [],\n "shorts": []}',
            'content.json line 3, column 2: unexpected top-level key "shorts"',
        ),
        (
            '{"movies": [],\n "series": [],\n "movies": []}',
            'content.json line 3, column 2: key "movies" appears twice',
        ),
    ],
)
def test_json_shape_problems_are_located(tmp_path: Path, text: str, expected: str) -> None:
    write_dataset(tmp_path)
    (tmp_path / "content.json").write_text(text)
    [problem] = problems_of(tmp_path)
    assert problem.startswith(expected)


def test_all_problems_of_all_files_are_reported_together(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    write_csv(tmp_path / "users.csv", "user_id", [])
    (tmp_path / "content.json").write_text("{")
    found = problems_of(tmp_path)
    assert [p.split(" ")[0] for p in found] == ["users.csv", "content.json"]
