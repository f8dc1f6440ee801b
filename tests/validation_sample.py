"""A small, clean raw landing (schema.sql + rows + a consistent load ledger) for the GX tests.

Rows follow docs/data_format.md: ids, enumerations, ranges, completion ≈ 100 × minutes / length,
sessions on or after registration. Deterministic, so a test can break one thing and know that
nothing else is broken.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import psycopg2

SCHEMA_SQL = Path(__file__).resolve().parent.parent / "streamlytics" / "ingest" / "schema.sql"

COUNTRIES = ["Mexico", "Colombia", "Argentina", "Chile", "Peru"]
PLANS = ["Basic", "Standard", "Premium"]
DEVICES = ["Smart TV", "Mobile", "Desktop", "Tablet", "Gaming Console"]
QUALITIES = ["HD", "4K", "SD"]
GENRES = [
    "Action",
    "Animation",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Horror",
    "Reality",
    "Romance",
    "Sci-Fi",
    "Thriller",
]

BATCH = {"users": "b" * 64, "content": "c" * 64, "viewing_sessions": "d" * 64}
FILES = {
    "users": "users.csv",
    "content": "content.json",
    "viewing_sessions": "viewing_sessions.csv",
}
LOAD_ID = {"users": 1, "content": 2, "viewing_sessions": 3}


def sample_rows(n_users: int = 15, sessions_per_user: int = 6) -> dict[str, list[tuple]]:
    """Field tuples per landing table, in column order (movies/series end with their item index)."""
    users, sessions = [], []
    movies = [
        (
            f"M{i:03d}",
            f"Movie {i}",
            90 + 10 * i,
            2020 + i % 5,
            round(2.5 + 0.4 * i, 1),
            10_000 * i,
            5_000_000 * i,
            i - 1,
        )
        for i in range(1, 6)
    ]
    series = [
        (
            f"S{i:03d}",
            f"Series {i}",
            1 + i % 3,
            30 + 5 * i,
            round(3.0 + 0.3 * i, 1),
            20_000 * i,
            9_000_000 * i,
            i - 1,
        )
        for i in range(1, 4)
    ]
    genres = [
        (m[0], "movie", GENRES[(i + k) % len(GENRES)], k + 1)
        for i, m in enumerate(movies)
        for k in range(1 + i % 3)
    ]
    genres += [
        (s[0], "series", GENRES[(i * 2 + k) % len(GENRES)], k + 1)
        for i, s in enumerate(series)
        for k in range(1 + i % 2)
    ]
    seasons = [(s[0], n, 6 + (n * 5) % 19) for s in series for n in range(1, s[2] + 1)]
    lengths = {m[0]: m[2] for m in movies} | {s[0]: s[3] for s in series}
    content_ids = list(lengths)
    for u in range(1, n_users + 1):
        plan = PLANS[u % 3]
        registered = date(2022, 1, 1) + timedelta(days=37 * u)
        users.append(
            (
                f"U{u:04d}",
                18 + (u * 7) % 47,
                COUNTRIES[u % 5],
                plan,
                registered,
                round(50.0 + 31.7 * u, 1),
            )
        )
        share = {"Basic": 0.68, "Standard": 0.79, "Premium": 0.88}[plan]
        for k in range(sessions_per_user):
            content_id = content_ids[(u + k) % len(content_ids)]
            length = lengths[content_id]
            minutes = max(2, round(length * (share + ((k % 3) - 1) * 0.05)))
            sessions.append(
                (
                    f"S{len(sessions) + 1:06d}",
                    f"U{u:04d}",
                    content_id,
                    max(registered, date(2024, 1, 1)) + timedelta(days=(u * 3 + k * 11) % 200),
                    minutes,
                    round(100.0 * minutes / length, 1),
                    DEVICES[(u + k) % 5],
                    QUALITIES[(u * k) % 3],
                )
            )
    return {
        "users": users,
        "movies": movies,
        "series": series,
        "content_genres": genres,
        "series_seasons": seasons,
        "viewing_sessions": sessions,
    }


def load_sample(database_url: str, **sizes: int) -> dict[str, list[tuple]]:
    """Apply schema.sql and land the sample with its ledger (every batch loaded, nothing quarantined)."""
    rows = sample_rows(**sizes)
    counts = {
        "users": len(rows["users"]),
        "viewing_sessions": len(rows["viewing_sessions"]),
        "content": len(rows["movies"]) + len(rows["series"]),
    }
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(SCHEMA_SQL.read_text())
        for kind, n in counts.items():
            cur.execute(
                "insert into audit.load_batches (load_id, batch_id, source_file, source_path, file_kind,"
                " file_bytes, lines_read, rows_loaded, rows_quarantined, started_at, finished_at, status)"
                " values (%s, %s, %s, %s, %s, 1000, %s, %s, 0, now(), now(), 'loaded')",
                (LOAD_ID[kind], BATCH[kind], FILES[kind], f"/data/{FILES[kind]}", kind, n, n),
            )
        cur.execute("select setval(pg_get_serial_sequence('audit.load_batches', 'load_id'), 10)")
        # Lines: CSV rows from line 2; movies from line 3, series from line 1003, 10 lines per item.
        movie_line = {m[0]: 3 + 10 * m[7] for m in rows["movies"]}
        series_line = {s[0]: 1003 + 10 * s[7] for s in rows["series"]}
        index = {m[0]: m[7] for m in rows["movies"]} | {s[0]: s[7] for s in rows["series"]}
        _insert(
            cur, "users_rows", [(*r, i + 2, LOAD_ID["users"]) for i, r in enumerate(rows["users"])]
        )
        _insert(
            cur,
            "viewing_sessions_rows",
            [
                (*r, i + 2, LOAD_ID["viewing_sessions"])
                for i, r in enumerate(rows["viewing_sessions"])
            ],
        )
        _insert(
            cur, "movies_rows", [(*r, movie_line[r[0]], LOAD_ID["content"]) for r in rows["movies"]]
        )
        _insert(
            cur,
            "series_rows",
            [(*r, series_line[r[0]], LOAD_ID["content"]) for r in rows["series"]],
        )
        _insert(
            cur,
            "content_genres_rows",
            [
                (
                    *r,
                    index[r[0]],
                    (movie_line if r[1] == "movie" else series_line)[r[0]],
                    LOAD_ID["content"],
                )
                for r in rows["content_genres"]
            ],
        )
        _insert(
            cur,
            "series_seasons_rows",
            [
                (*r, index[r[0]], series_line[r[0]], LOAD_ID["content"])
                for r in rows["series_seasons"]
            ],
        )
    return rows


def _insert(cur, table: str, rows: list[tuple]) -> None:
    cur.executemany(f"insert into raw.{table} values ({', '.join(['%s'] * len(rows[0]))})", rows)
