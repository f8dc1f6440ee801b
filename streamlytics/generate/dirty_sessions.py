"""Defect lines for viewing_sessions.csv: chosen session lines are rewritten in place.

No other row depends on a session, so editing a line cannot make another row wrong. Each line
gets one defect, and all its other fields stay valid (a duplicate_id line reuses the id of an
earlier CLEAN line; a watch_before_registration line keeps the date inside the log window, so
it can only be caught by comparing with the user's registration date).
"""

from __future__ import annotations

import numpy as np

from streamlytics.generate import distributions as d
from streamlytics.generate.defects import Defect
from streamlytics.generate.dirty_users import enum_variant
from streamlytics.generate.layout import SESSIONS_COLUMNS, day_text, session_fields
from streamlytics.generate.scaling import IdFormat
from streamlytics.generate.sessions import SessionBlock
from streamlytics.generate.writer import Edit

FILE = "viewing_sessions.csv"
IMPOSSIBLE_DATES = (
    "2024-02-30",
    "2024-02-31",
    "2024-04-31",
    "2024-06-31",
    "2024-09-31",
    "2024-13-01",
    "2024-00-15",
)
# In-place kinds other than the two that need particular rows (handled first).
SIMPLE_KINDS = (
    "field_count",
    "bad_number",
    "bad_date",
    "empty_required",
    "unknown_user_id",
    "unknown_content_id",
    "out_of_range",
    "duration_above_length",
    "enum_case_whitespace",
)
COL = {name: i for i, name in enumerate(SESSIONS_COLUMNS)}


def eligible_for_late_watch(registration_of_row: np.ndarray) -> np.ndarray:
    """Rows whose user registered after the log's first day: only they can watch 'too early'."""
    return np.flatnonzero(registration_of_row > d.WATCH_FIRST)


def _corrupt(
    rng: np.random.Generator, kind: str, fields: list[str], length: int, ids: IdFormat
) -> tuple[str | None, str]:
    """Apply one defect to a session row's fields; return (field, value as written)."""
    if kind == "field_count":
        del fields[int(rng.integers(1, len(fields) - 1))]
        return None, ",".join(fields)
    if kind == "bad_number":
        variant = int(rng.integers(0, 3))
        column = COL["completion_percentage"] if variant == 2 else COL["watch_duration_minutes"]
        fields[column] = (fields[column] + "min", "99999999999", fields[column] + "%")[variant]
    elif kind == "bad_date":
        column = COL["watch_date"]
        fields[column] = IMPOSSIBLE_DATES[int(rng.integers(0, len(IMPOSSIBLE_DATES)))]
    elif kind == "empty_required":
        column = int(rng.integers(0, len(fields)))
        fields[column] = ""
    elif kind == "unknown_user_id":
        column = COL["user_id"]
        fields[column] = ids.unknown_user()
    elif kind == "unknown_content_id":
        column = COL["content_id"]
        fields[column] = ids.unknown_content(movie=bool(rng.integers(0, 2)))
    elif kind == "out_of_range":
        variant = int(rng.integers(0, 3))
        if variant == 2:
            column = COL["completion_percentage"]
            fields[column] = f"{100 + int(rng.integers(1, 501)) / 10:.1f}"
        else:
            column = COL["watch_duration_minutes"]
            fields[column] = "0" if variant == 1 else "-" + fields[column]
    elif kind == "duration_above_length":
        column = COL["watch_duration_minutes"]
        fields[column] = str(length + int(rng.integers(1, 31)))
    elif kind == "enum_case_whitespace":
        column = COL["device_type"] if rng.integers(0, 2) else COL["quality_level"]
        fields[column] = enum_variant(rng, fields[column])
    else:
        raise ValueError(f"not a simple session defect: {kind}")
    return SESSIONS_COLUMNS[column], fields[column]


def plan_session_defects(
    rng: np.random.Generator,
    sessions: SessionBlock,
    registration_of_row: np.ndarray,
    lengths: np.ndarray,
    counts: dict[str, int],
    ids: IdFormat,
    content_ids: list[str],
) -> tuple[list[Edit], list[tuple[str, str | None, str]]]:
    """Edits for one block and, aligned with them, (kind, field, value)."""
    n = sessions.size
    edits: list[Edit] = []
    info: list[tuple[str, str | None, str]] = []
    used = np.zeros(n, dtype=bool)

    def fields_of(row: int) -> list[str]:
        return session_fields(sessions, row, ids, content_ids)

    late = rng.choice(
        eligible_for_late_watch(registration_of_row),
        counts.get("watch_before_registration", 0),
        replace=False,
    )
    for row in (int(r) for r in late):
        used[row] = True
        fields = fields_of(row)
        day = d.WATCH_FIRST + int(rng.integers(0, registration_of_row[row] - d.WATCH_FIRST))
        fields[COL["watch_date"]] = day_text(day)
        edits.append(Edit(row, ",".join(fields)))
        info.append(("watch_before_registration", "watch_date", fields[COL["watch_date"]]))

    free = rng.permutation(np.flatnonzero(~used))
    taken = 0
    pairs = counts.get("duplicate_id", 0)
    for a, b in free[: 2 * pairs].reshape(-1, 2):
        original, duplicate = sorted((int(a), int(b)))
        fields = fields_of(duplicate)
        fields[0] = ids.session(sessions.first + original)
        edits.append(Edit(duplicate, ",".join(fields)))
        info.append(("duplicate_id", "session_id", fields[0]))
    taken = 2 * pairs

    for kind in SIMPLE_KINDS:
        rows = free[taken : taken + counts.get(kind, 0)]
        taken += rows.shape[0]
        for row in (int(r) for r in rows):
            fields = fields_of(row)
            field, value = _corrupt(rng, kind, fields, int(lengths[sessions.content[row]]), ids)
            edits.append(Edit(row, ",".join(fields)))
            info.append((kind, field, value))
    return edits, info


def to_defects(info: list[tuple[str, str | None, str]], lines: list[int]) -> list[Defect]:
    return [
        Defect(FILE, line, kind, field, value) for (kind, field, value), line in zip(info, lines)
    ]
