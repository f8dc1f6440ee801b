"""A small, seeded, core-shaped Postgres data set for the Mongo tests.

Creates the tables of the dbt core contract (schema ``core``: users, content, movie_details,
series_details, content_genres, series_episodes, viewing_sessions) with only the columns the
Mongo store reads, and fills them with random but valid rows, including the edge cases a
document builder must survive: a user and a title without sessions, ages at the band edges,
titles with one and with three genres.

:func:`build_sync_models` then runs dbt on that core: the real sync models the publish reads
(dbt_project/models/marts/sync/) and the intermediates between them and the core, so the tests
exercise the dbt SQL without generating and ingesting raw files.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable
from pathlib import Path

import psycopg2
import pytest

from streamlytics.config import settings
from streamlytics.dbt_relations import Relation

# The sync models and every model between them and the core.
SYNC_MODELS = (
    "int_user_months_active",
    "int_content_engagement",
    "path:models/intermediate/engagement",
    "path:models/marts/sync",
)

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

DDL = """
create schema if not exists core;
create table core.users (
    user_id text primary key, country text not null, subscription_type text not null,
    age integer not null, registration_date date not null, lifetime_watch_hours numeric(12, 1) not null,
    batch_id text not null default 'users-batch'
);
create table core.content (
    content_id text primary key, content_type text not null, title text not null,
    content_length_minutes integer not null, rating numeric(3, 1) not null,
    production_budget bigint not null, views bigint not null,
    batch_id text not null default 'content-batch'
);
create table core.movie_details (
    content_id text primary key references core.content, release_year integer not null
);
create table core.series_details (
    content_id text primary key references core.content, season_count integer not null,
    episode_total integer not null
);
create table core.series_episodes (
    content_id text references core.content, season_number integer, episode_count integer not null,
    primary key (content_id, season_number)
);
create table core.content_genres (
    content_id text references core.content, genre text, genre_position integer not null,
    primary key (content_id, genre)
);
create table core.viewing_sessions (
    session_id text primary key, user_id text not null references core.users,
    content_id text not null references core.content, watch_date date not null,
    device_type text not null, quality_level text not null, watch_minutes integer not null,
    completion_percentage numeric(6, 1) not null, content_length_minutes integer not null,
    batch_id text not null default 'sessions-batch'
);
"""


def create_core(
    url: str,
    *,
    users: int = 40,
    movies: int = 8,
    series: int = 5,
    sessions: int = 600,
    seed: int = 11,
) -> None:
    """Create and fill the core tables in the database at ``url``."""
    rng = random.Random(seed)
    user_rows = []
    for i in range(1, users + 1):
        age = [13, 17, 18, 24, 25, 64, 65, 70][i - 1] if i <= 8 else rng.randint(18, 65)
        user_rows.append(
            (
                f"U{i:04d}",
                rng.choice(COUNTRIES),
                rng.choice(PLANS),
                age,
                dt.date(2022, 1, 1) + dt.timedelta(days=rng.randint(0, 790)),
                round(rng.uniform(9.8, 1093.1), 1),
            )
        )
    content_rows, movie_rows, series_rows, episode_rows, genre_rows = [], [], [], [], []
    lengths: dict[str, int] = {}
    for i in range(1, movies + 1):
        cid = f"M{i:03d}"
        lengths[cid] = rng.randint(81, 180)
        content_rows.append(
            (
                cid,
                "movie",
                f"Movie {i % 5}",
                lengths[cid],
                round(rng.uniform(1, 5), 1),
                rng.randint(1_600_000, 300_000_000),
                rng.randint(2_000, 300_000),
            )
        )
        movie_rows.append((cid, rng.randint(2020, 2024)))
    for i in range(1, series + 1):
        cid = f"S{i:03d}"
        lengths[cid] = rng.randint(20, 60)
        content_rows.append(
            (
                cid,
                "series",
                f"Series {i % 3}",
                lengths[cid],
                round(rng.uniform(1, 5), 1),
                rng.randint(5_000_000, 500_000_000),
                rng.randint(11_000, 365_000),
            )
        )
        episodes = [rng.randint(6, 24) for _ in range(rng.randint(1, 4))]
        series_rows.append((cid, len(episodes), sum(episodes)))
        episode_rows += [(cid, season, n) for season, n in enumerate(episodes, start=1)]
    for n, (cid, *_rest) in enumerate(content_rows):
        count = 3 if n == 0 else 1 if n == 1 else rng.randint(1, 3)
        genre_rows += [(cid, g, p) for p, g in enumerate(rng.sample(GENRES, count), start=1)]

    # The last user and the last title never appear in a session.
    watchers = [u[0] for u in user_rows[:-1]]
    titles = [c[0] for c in content_rows[:-1]]
    session_rows = []
    for i in range(1, sessions + 1):
        cid = rng.choice(titles)
        minutes = rng.randint(2, lengths[cid])
        session_rows.append(
            (
                f"S{i:06d}",
                rng.choice(watchers),
                cid,
                dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 243)),
                rng.choice(DEVICES),
                rng.choice(QUALITIES),
                minutes,
                round(max(10.0, min(100.0, 100 * minutes / lengths[cid])), 1),
                lengths[cid],
            )
        )

    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(DDL)
        for table, rows in (
            ("users", user_rows),
            ("content", content_rows),
            ("movie_details", movie_rows),
            ("series_details", series_rows),
            ("series_episodes", episode_rows),
            ("content_genres", genre_rows),
            ("viewing_sessions", session_rows),
        ):
            marks = ", ".join(["%s"] * len(rows[0]))
            cur.executemany(f"insert into core.{table} values ({marks})", rows)
    conn.close()


def build_sync_models(url: str, work: Path) -> Path:
    """dbt-build the sync models (and their tests) over the core of ``url``; the target folder.

    A full refresh every time: the incremental intermediates would otherwise look for the
    validation models, which a core made by :func:`create_core` has not got.
    """
    from streamlytics.transform import run_build

    with pytest.MonkeyPatch.context() as env:
        env.setenv("DATABASE_URL", url)
        env.setenv("DBT_INDIRECT_SELECTION", "cautious")
        result = run_build(
            select=SYNC_MODELS,
            exclude=("resource_type:unit_test",),
            full_refresh=True,
            target_path=work / "target",
            log_path=work / "logs",
        )
    assert result.ok, [f.describe() for f in result.failures] or result.output_tail
    return work / "target"


def parse_project(work: Path) -> Path:
    """``dbt parse`` of the project into ``work/target`` (a manifest, nothing built); the folder."""
    import subprocess

    from streamlytics.transform import dbt_environment, dbt_executable

    target = work / "target"
    subprocess.run(
        [dbt_executable(), "parse", "--target-path", str(target), "--log-path", str(work / "logs")],
        cwd=settings().dbt_project_dir,
        env=dbt_environment(),
        check=True,
        capture_output=True,
    )
    return target


def resolver(target: Path) -> Callable[[str], Relation]:
    """Model name -> relation, from the manifest dbt wrote into ``target``."""
    nodes = json.loads((target / "manifest.json").read_text(encoding="utf-8"))["nodes"]
    found = {
        node["name"]: Relation(node["name"], node["schema"], node.get("alias") or node["name"])
        for node in nodes.values()
        if node["resource_type"] == "model"
    }
    return found.__getitem__


def clone_database(admin_url: str, template_url: str, name: str) -> str:
    """A copy of the database of ``template_url`` (which must have no open connections)."""
    from urllib.parse import urlsplit, urlunsplit

    template = urlsplit(template_url).path.lstrip("/")
    conn = psycopg2.connect(admin_url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'create database "{name}" template "{template}"')
    finally:
        conn.close()
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
