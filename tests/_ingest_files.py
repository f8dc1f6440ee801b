"""Small input files for the ingest tests, written by the tests themselves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

USERS_HEADER = "user_id,age,country,subscription_type,registration_date,total_watch_time_hours"
SESSIONS_HEADER = (
    "session_id,user_id,content_id,watch_date,watch_duration_minutes,completion_percentage,"
    "device_type,quality_level"
)

USERS = [
    "U0001,34,Mexico,Basic,2023-01-05,120.5",
    "U0002,29,Chile,Premium,2022-03-01,500.1",
    "U0003,51,Peru,Standard,2024-02-29,77.0",
]

SESSIONS = [
    "S000001,U0001,M001,2024-02-04,18,36.1,Smart TV,4K",
    "S000002,U0002,S001,2024-07-13,25,88.8,Mobile,HD",
    "S000003,U0003,M001,2024-02-29,100,90.0,Gaming Console,SD",
]


def movie(content_id: str = "M001", **override: Any) -> dict[str, Any]:
    item = {
        "content_id": content_id,
        "title": "A title, with a comma",
        "genre": ["Action", "Drama"],
        "duration_minutes": 120,
        "release_year": 2021,
        "rating": 4.3,
        "views_count": 12000,
        "production_budget": 5_000_000,
    }
    item.update(override)
    return item


def series(content_id: str = "S001", **override: Any) -> dict[str, Any]:
    item = {
        "content_id": content_id,
        "title": "A show",
        "genre": ["Comedy"],
        "seasons": 2,
        "episodes_per_season": [10, 12],
        "avg_episode_duration": 30,
        "rating": 3.9,
        "total_views": 50_000,
        "production_budget": 20_000_000,
    }
    item.update(override)
    return item


def write_csv(path: Path, header: str, lines: list[str]) -> Path:
    path.write_text(header + "\n" + "".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_content(
    path: Path, movies: list[Any] | None = None, series_items: list[Any] | None = None
) -> Path:
    doc = {
        "movies": [movie()] if movies is None else movies,
        "series": [series()] if series_items is None else series_items,
    }
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path


def write_dataset(
    directory: Path,
    users: list[str] | None = None,
    sessions: list[str] | None = None,
    movies: list[Any] | None = None,
    series_items: list[Any] | None = None,
) -> Path:
    """A valid data directory (or one with the given lines/items instead of the defaults)."""
    directory.mkdir(parents=True, exist_ok=True)
    write_csv(directory / "users.csv", USERS_HEADER, USERS if users is None else users)
    write_csv(
        directory / "viewing_sessions.csv",
        SESSIONS_HEADER,
        SESSIONS if sessions is None else sessions,
    )
    write_content(directory / "content.json", movies, series_items)
    return directory


def big_sessions_lines(count: int, first: int = 1) -> bytes:
    """``count`` valid session lines (no header), fast to build."""
    return b"".join(
        b"S%07d,U%04d,M%03d,2024-03-%02d,%d,%d.5,Mobile,HD\n"
        % (i, i % 5000 + 1, i % 200 + 1, i % 28 + 1, i % 170 + 2, i % 90 + 10)
        for i in range(first, first + count)
    )
