"""Defect lines for users.csv.

Rejected users would orphan their sessions, so every defect that gets a row rejected is an
EXTRA line for a user who has no sessions: a fresh id (or an existing id, after its original,
for duplicate_id). Only the normalised kind (enum_case_whitespace) edits a real user's line,
because that user flows on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamlytics.generate.defects import Defect
from streamlytics.generate.layout import USERS_COLUMNS, user_fields
from streamlytics.generate.scaling import IdFormat
from streamlytics.generate.users import UserBlock, generate_users
from streamlytics.generate.writer import Edit

FILE = "users.csv"
FRESH_ID_KINDS = ("field_count", "bad_number", "bad_date", "out_of_range")
IMPOSSIBLE_DATES = (
    "2023-02-29",
    "2022-02-30",
    "2023-04-31",
    "2022-13-01",
    "2023-00-10",
    "2022-06-31",
    "2023-11-31",
)
OUT_OF_RANGE_AGES = ("0", "5", "12", "121", "150", "-4")


@dataclass(frozen=True)
class Planned:
    edit: Edit
    kind: str
    field: str | None
    value: str


def enum_variant(rng: np.random.Generator, value: str) -> str:
    """`value` with stray case or surrounding whitespace (never equal to it)."""
    variants = (value.lower(), value.upper(), " " + value, value + " ", "  " + value.lower())
    chosen = variants[int(rng.integers(0, len(variants)))]
    return chosen if chosen != value else " " + value


def _valid_extra(rng: np.random.Generator, number: int, ids: IdFormat) -> list[str]:
    return user_fields(generate_users(rng, number, 1), 0, ids)


def _corrupt(rng: np.random.Generator, kind: str, fields: list[str]) -> tuple[str | None, str]:
    """Apply one defect to a valid extra row; return (field, value as written)."""
    if kind == "field_count":
        del fields[int(rng.integers(1, len(fields) - 1))]
        return None, ",".join(fields)
    if kind == "bad_number":
        variant = int(rng.integers(0, 3))
        if variant == 0:
            fields[1] = fields[1] + "O"  # letter O typed for a zero
        elif variant == 1:
            fields[1] = "99999999999"  # overflows a 32-bit integer
        else:
            fields[5] = fields[5] + ".5"  # two decimal points
        column = 5 if variant == 2 else 1
        return USERS_COLUMNS[column], fields[column]
    if kind == "bad_date":
        fields[4] = IMPOSSIBLE_DATES[int(rng.integers(0, len(IMPOSSIBLE_DATES)))]
        return USERS_COLUMNS[4], fields[4]
    if kind == "empty_required":
        fields[0] = ""
        return USERS_COLUMNS[0], ""
    if kind == "out_of_range":
        fields[1] = OUT_OF_RANGE_AGES[int(rng.integers(0, len(OUT_OF_RANGE_AGES)))]
        return USERS_COLUMNS[1], fields[1]
    raise ValueError(f"not an extra-row user defect: {kind}")


def plan_user_defects(
    rng: np.random.Generator,
    users: UserBlock,
    counts: dict[str, int],
    next_fresh: int,
    ids: IdFormat,
) -> tuple[list[Planned], int]:
    """Defect lines for one block; returns them and the next unused fresh user number."""
    n = users.size
    planned: list[Planned] = []

    enum_rows = rng.choice(n, counts.get("enum_case_whitespace", 0), replace=False)
    for row in sorted(int(r) for r in enum_rows):
        fields = user_fields(users, row, ids)
        fields[3] = enum_variant(rng, fields[3])
        planned.append(
            Planned(
                Edit(row, ",".join(fields)), "enum_case_whitespace", USERS_COLUMNS[3], fields[3]
            )
        )

    others = np.setdiff1d(np.arange(n), enum_rows)
    originals = rng.choice(others, counts.get("duplicate_id", 0), replace=False)
    for original in sorted(int(o) for o in originals):
        fields = _valid_extra(rng, users.first + original, ids)
        after = int(rng.integers(original, n))
        planned.append(
            Planned(
                Edit(after, ",".join(fields), after=True),
                "duplicate_id",
                USERS_COLUMNS[0],
                fields[0],
            )
        )

    for kind in (*FRESH_ID_KINDS, "empty_required"):
        for _ in range(counts.get(kind, 0)):
            number = next_fresh
            if kind != "empty_required":
                next_fresh += 1
            fields = _valid_extra(rng, number, ids)
            field, value = _corrupt(rng, kind, fields)
            after = int(rng.integers(0, n))
            planned.append(Planned(Edit(after, ",".join(fields), after=True), kind, field, value))
    return planned, next_fresh


def to_defects(planned: list[Planned], lines: list[int]) -> list[Defect]:
    return [Defect(FILE, line, p.kind, p.field, p.value) for p, line in zip(planned, lines)]
