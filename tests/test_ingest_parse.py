"""Line and item validation: the reason codes, and that the fast path never changes an outcome."""

from __future__ import annotations

import json
import random

import pytest
from _ingest_files import SESSIONS, movie, series

from streamlytics.ingest.content import ContentItem, scan_document, validate_item
from streamlytics.ingest.csv_lines import BlockConverter, FieldChecker
from streamlytics.ingest.formats import USERS, VIEWING_SESSIONS

GOOD = "S000001,U0001,M001,2024-02-04,18,36.1,Smart TV,4K"


def convert(lines: list[str], layout=VIEWING_SESSIONS, first_line: int = 2):
    block = "".join(line + "\n" for line in lines).encode("utf-8")
    out, rejections = BlockConverter(layout, load_id=7).convert(block, first_line)
    rows = out.decode("utf-8").splitlines()
    return rows, rejections


def with_field(name: str, value: str, base: str = GOOD) -> str:
    fields = base.split(",")
    fields[VIEWING_SESSIONS.column_names.index(name)] = value
    return ",".join(fields)


@pytest.mark.parametrize(
    ("line", "reason", "field"),
    [
        ("S000001,U0001,M001,2024-02-04,18,36.1,Smart TV", "field_count", None),
        (GOOD + ",extra", "field_count", None),
        ("", "field_count", None),
        (with_field("watch_duration_minutes", "18min"), "bad_number", "watch_duration_minutes"),
        (
            with_field("watch_duration_minutes", "99999999999"),
            "bad_number",
            "watch_duration_minutes",
        ),
        (
            with_field("watch_duration_minutes", "2147483648"),
            "bad_number",
            "watch_duration_minutes",
        ),
        (with_field("watch_duration_minutes", "1.5"), "bad_number", "watch_duration_minutes"),
        (with_field("completion_percentage", "36.1%"), "bad_number", "completion_percentage"),
        (with_field("completion_percentage", "36.1.5"), "bad_number", "completion_percentage"),
        (with_field("completion_percentage", "1e5"), "bad_number", "completion_percentage"),
        (with_field("completion_percentage", "9" * 400), "bad_number", "completion_percentage"),
        (with_field("watch_date", "2024-02-30"), "bad_date", "watch_date"),
        (with_field("watch_date", "2023-02-29"), "bad_date", "watch_date"),
        (with_field("watch_date", "1900-02-29"), "bad_date", "watch_date"),
        (with_field("watch_date", "2024-13-01"), "bad_date", "watch_date"),
        (with_field("watch_date", "2024-00-15"), "bad_date", "watch_date"),
        (with_field("watch_date", "0000-01-01"), "bad_date", "watch_date"),
        (with_field("watch_date", "0000-02-29"), "bad_date", "watch_date"),
        (with_field("watch_date", "2024/01/01"), "bad_date", "watch_date"),
        (with_field("watch_date", "20240101"), "bad_date", "watch_date"),
        (with_field("session_id", ""), "empty_required", "session_id"),
        (with_field("device_type", "   "), "empty_required", "device_type"),
        (with_field("watch_duration_minutes", ""), "empty_required", "watch_duration_minutes"),
        (with_field("watch_date", ""), "empty_required", "watch_date"),
    ],
)
def test_bad_line_is_rejected_with_its_reason_code(
    line: str, reason: str, field: str | None
) -> None:
    rows, [rejection] = convert([GOOD, line, GOOD], first_line=10)
    assert len(rows) == 2
    assert (rejection.line, rejection.reason, rejection.field) == (11, reason, field)
    assert rejection.raw_text == line


@pytest.mark.parametrize(
    ("line", "stored"),
    [
        (with_field("device_type", " mobile"), " mobile"),  # normalised later, in staging
        (with_field("quality_level", "HD "), "HD "),
        (with_field("device_type", "Smart\\TV"), "Smart\\\\TV"),  # backslash escaped for COPY
        (with_field("watch_date", "2024-02-29"), "2024-02-29"),
        (with_field("watch_date", "2000-02-29"), "2000-02-29"),
        (with_field("watch_duration_minutes", "2147483647"), "2147483647"),
        (with_field("watch_duration_minutes", "-5"), "-5"),  # a range problem: staging's job
        (with_field("completion_percentage", "1234567890123456.25"), "1234567890123456.25"),
        (with_field("content_id", "Mé01"), "Mé01"),
    ],
)
def test_unusual_but_valid_values_land_as_received(line: str, stored: str) -> None:
    rows, rejections = convert([line], first_line=5)
    assert rejections == []
    assert rows == [line.replace("Smart\\TV", stored) + ",5,7"]


def test_crlf_line_lands_without_its_carriage_return() -> None:
    rows, rejections = convert([GOOD + "\r"])
    assert rejections == [] and rows == [GOOD + ",2,7"]


def test_rejection_message_names_file_line_field_and_value() -> None:
    from streamlytics.ingest.quarantine import message_for

    _, [rejection] = convert([with_field("watch_date", "2024-02-30")], first_line=1234)
    assert message_for("viewing_sessions.csv", rejection) == (
        "viewing_sessions.csv line 1234: field watch_date = '2024-02-30' is not a calendar date "
        "(day is out of range for month)"
    )


def test_every_problem_of_a_line_is_named_in_the_detail() -> None:
    _, [rejection] = convert(
        [with_field("watch_date", "2024-02-30", with_field("watch_duration_minutes", "x"))]
    )
    assert rejection.reason == "bad_date"
    assert "also: watch_duration_minutes 'x' is not an integer" in rejection.detail


def test_fast_and_exact_paths_agree_on_every_line() -> None:
    """Random lines, valid and not: each is landed or rejected exactly as the exact checker decides."""
    rng = random.Random(4)
    pieces = {
        "session_id": ["S000001", "", " S1", "S\\1", "S,1"],
        "watch_date": [
            "2024-02-29",
            "2023-02-29",
            "2024-04-31",
            "2024-12-31",
            "2024-1-01",
            "9999-12-31",
            "0000-02-29",
            "0400-02-29",
            "1900-02-29",
            "0001-01-01",
            "2024-06-31",
        ],
        "watch_duration_minutes": ["0", "-12", "999999999", "1000000000", "2147483648", "1.0", "x"],
        "completion_percentage": ["0", "100.0", "-1.5", "1.", ".5", "12345678901234567.1"],
        "device_type": ["Mobile", " Mobile", "Mobile ", "", "Smart TV"],
    }
    lines = []
    for _ in range(3000):
        line = GOOD
        for name, values in pieces.items():
            if rng.random() < 0.3:
                line = with_field(name, rng.choice(values), line)
        lines.append(line)
    rows, rejections = convert(lines, first_line=2)
    checker = FieldChecker(VIEWING_SESSIONS)
    expected_rows = []
    expected_rejected = []
    for number, line in enumerate(lines, start=2):
        row, problems = checker.check(line)
        if row is None:
            expected_rejected.append((number, problems[0][0]))
        else:
            expected_rows.append(f"{row},{number},7")
    assert rows == expected_rows
    assert [(r.line, r.reason) for r in rejections] == expected_rejected
    assert len(rows) + len(rejections) == len(lines)


def test_users_layout_checks_its_own_types() -> None:
    rows, rejections = convert(
        [
            "U0001,34,Mexico,Basic,2023-01-05,120.5",
            "U0002,34O,Chile,Basic,2023-01-05,1.0",
            "U0003,20,Peru,Basic,2023-01-05,12.3.5",
        ],
        layout=USERS,
    )
    assert rows == ["U0001,34,Mexico,Basic,2023-01-05,120.5,2,7"]
    assert [(r.line, r.reason, r.field) for r in rejections] == [
        (3, "bad_number", "age"),
        (4, "bad_number", "total_watch_time_hours"),
    ]


# content.json items ---------------------------------------------------------------------------


def item(value: object, section: str = "movies") -> ContentItem:
    return ContentItem(section, 0, 1, json.dumps(value), value)


@pytest.mark.parametrize(
    ("value", "reason", "field"),
    [
        (
            {k: v for k, v in movie().items() if k != "release_year"},
            "json_missing_key",
            "release_year",
        ),
        (movie(genre="Action"), "json_wrong_type", "genre"),
        (movie(genre=["Action", 3]), "json_wrong_type", "genre"),
        (movie(genre=[]), "empty_required", "genre"),
        (movie(rating="4.3"), "json_wrong_type", "rating"),
        (movie(rating=True), "json_wrong_type", "rating"),
        (movie(rating=float("nan")), "bad_number", "rating"),
        (movie(views_count="12000"), "json_wrong_type", "views_count"),
        (movie(views_count=12000.0), "json_wrong_type", "views_count"),
        (movie(production_budget=99_999_999_999_999_999_999), "bad_number", "production_budget"),
        (movie(duration_minutes=2**31), "bad_number", "duration_minutes"),
        (movie(title=""), "empty_required", "title"),
        (movie(title=None), "empty_required", "title"),
        (movie(title="a\x00b"), "json_malformed_item", "title"),
        ("not an object", "json_malformed_item", None),
        ([1, 2], "json_malformed_item", None),
    ],
)
def test_bad_movie_item_gets_its_reason_code(value: object, reason: str, field: str | None) -> None:
    violation = validate_item(item(value))[0]
    assert (violation.reason, violation.field) == (reason, field)


def test_series_rules_and_episode_count_mismatch_is_not_an_ingest_error() -> None:
    assert validate_item(item(series(seasons=3, episodes_per_season=[10, 12]), "series")) == []
    assert validate_item(item(series(episodes_per_season=[]), "series")) == []
    [violation] = validate_item(item(series(seasons="2"), "series"))
    assert (violation.reason, violation.field) == ("json_wrong_type", "seasons")
    [violation] = validate_item(item(series(episodes_per_season="10,12"), "series"))
    assert (violation.reason, violation.field) == ("json_wrong_type", "episodes_per_season")


def test_scan_finds_every_item_with_the_line_of_its_opening_brace() -> None:
    doc = {"movies": [movie("M001"), movie("M002")], "series": [series("S001")]}
    text = json.dumps(doc, indent=2)
    scanned = scan_document(text)
    assert scanned.problems == []
    lines = text.split("\n")
    for found in scanned.items:
        assert lines[found.line - 1].strip() == "{"
        assert json.loads(found.raw_text) == found.value
        assert lines[found.line].strip() == f'"content_id": "{found.value["content_id"]}",'
    assert [(i.section, i.index) for i in scanned.items] == [
        ("movies", 0),
        ("movies", 1),
        ("series", 0),
    ]


def test_sessions_fixture_lines_are_valid() -> None:
    rows, rejections = convert(SESSIONS)
    assert rejections == [] and len(rows) == len(SESSIONS)


def test_fast_date_pattern_accepts_exactly_the_calendar_dates() -> None:
    """The fast path must never let through a date PostgreSQL would refuse (checked for leap
    centuries, year 0000 and ordinary years, every month 00-13 and day 00-32)."""
    import datetime as dt

    import re2

    from streamlytics.ingest.csv_lines import _FAST

    pattern = re2.compile(_FAST["date"])
    for year in (0, 1, 4, 100, 400, 1900, 2000, 2023, 2024, 2100, 9999):
        for month in range(14):
            for day in range(33):
                text = f"{year:04d}-{month:02d}-{day:02d}"
                try:
                    dt.date(year, month, day)
                    valid = True
                except ValueError:
                    valid = False
                assert (pattern.fullmatch(text.encode()) is not None) == valid, text
