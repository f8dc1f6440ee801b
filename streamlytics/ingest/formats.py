"""The three raw exports as the loader sees them: file names, headers, field types, tables.

This module is the code form of /work/shared/DATA_FORMAT.md (and docs/data_format.md); every
other ingest module reads the layout from here rather than repeating column lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

FieldType = Literal["text", "int4", "int8", "decimal", "date"]
FileKind = Literal["users", "content", "viewing_sessions"]

USERS_FILE = "users.csv"
CONTENT_FILE = "content.json"
SESSIONS_PREFIX = "viewing_sessions"
"""Sessions exports are incremental: ``viewing_sessions.csv`` and any ``viewing_sessions*.csv``
beside it (e.g. ``viewing_sessions_2024-09.csv``) are separate files, each its own batch."""

INT4_MAX = 2**31 - 1
INT8_MAX = 2**63 - 1


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType


@dataclass(frozen=True)
class CsvLayout:
    """One CSV export: its columns in file order and the landing table they are copied into."""

    kind: FileKind
    fields: tuple[Field, ...]
    table: str

    @property
    def header(self) -> str:
        return ",".join(f.name for f in self.fields)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


USERS = CsvLayout(
    kind="users",
    fields=(
        Field("user_id", "text"),
        Field("age", "int4"),
        Field("country", "text"),
        Field("subscription_type", "text"),
        Field("registration_date", "date"),
        Field("total_watch_time_hours", "decimal"),
    ),
    table="raw.users_rows",
)

VIEWING_SESSIONS = CsvLayout(
    kind="viewing_sessions",
    fields=(
        Field("session_id", "text"),
        Field("user_id", "text"),
        Field("content_id", "text"),
        Field("watch_date", "date"),
        Field("watch_duration_minutes", "int4"),
        Field("completion_percentage", "decimal"),
        Field("device_type", "text"),
        Field("quality_level", "text"),
    ),
    table="raw.viewing_sessions_rows",
)

CSV_LAYOUTS: dict[str, CsvLayout] = {"users": USERS, "viewing_sessions": VIEWING_SESSIONS}

# content.json item keys in file order, with the JSON type each must have. "genres" is a
# non-empty list of strings, "int4_list" a list of integers.
ItemType = Literal["text", "int4", "int8", "number", "genres", "int4_list"]

MOVIE_KEYS: tuple[tuple[str, ItemType], ...] = (
    ("content_id", "text"),
    ("title", "text"),
    ("genre", "genres"),
    ("duration_minutes", "int4"),
    ("release_year", "int4"),
    ("rating", "number"),
    ("views_count", "int8"),
    ("production_budget", "int8"),
)

SERIES_KEYS: tuple[tuple[str, ItemType], ...] = (
    ("content_id", "text"),
    ("title", "text"),
    ("genre", "genres"),
    ("seasons", "int4"),
    ("episodes_per_season", "int4_list"),
    ("avg_episode_duration", "int4"),
    ("rating", "number"),
    ("total_views", "int8"),
    ("production_budget", "int8"),
)

CONTENT_SECTIONS: dict[str, tuple[tuple[str, ItemType], ...]] = {
    "movies": MOVIE_KEYS,
    "series": SERIES_KEYS,
}

# Landing tables of each file kind: a superseded batch's rows are deleted from all of them.
LANDING_TABLES: dict[str, tuple[str, ...]] = {
    "users": ("raw.users_rows",),
    "content": (
        "raw.movies_rows",
        "raw.series_rows",
        "raw.content_genres_rows",
        "raw.series_seasons_rows",
    ),
    "viewing_sessions": ("raw.viewing_sessions_rows",),
}

SNAPSHOT_KINDS: frozenset[str] = frozenset({"users", "content"})
"""users.csv and content.json are full snapshots: a new one replaces the previous one."""


def kind_of(path: Path) -> FileKind | None:
    """The file kind a file name belongs to, or None if the loader does not read it."""
    name = path.name
    if name == USERS_FILE:
        return "users"
    if name == CONTENT_FILE:
        return "content"
    if name.startswith(SESSIONS_PREFIX) and name.endswith(".csv"):
        return "viewing_sessions"
    return None
