"""Read the dbt core (schema ``core``) at run time into data frames, and derive per-user metrics.

This module is the only place that knows the core's column names; the analyses downstream
use the names of :class:`AnalysisData`. Nothing is cached: every run reads the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

USERS_SQL = """
select user_id, age, country, subscription_type as plan, registration_date,
       cast(lifetime_watch_hours as double precision) as lifetime_hours
from core.users
"""

CONTENT_SQL = """
select c.content_id, c.content_type, c.title, c.content_length_minutes as length_minutes,
       cast(c.rating as double precision) as rating,
       cast(c.production_budget as double precision) as budget,
       cast(c.views as double precision) as views,
       m.release_year, s.season_count as seasons, s.episode_total
from core.content as c
left join core.movie_details as m on m.content_id = c.content_id
left join core.series_details as s on s.content_id = c.content_id
"""

SESSIONS_SQL = """
select session_id, user_id, content_id, watch_date, device_type as device,
       quality_level as quality, watch_minutes,
       cast(completion_percentage as double precision) as completion
from core.viewing_sessions
"""

# Tables whose row counts (and, where there is one, latest load time) identify the data a run saw.
FINGERPRINT_TABLES = (
    "users", "content", "movie_details", "series_details", "genres", "content_genres",
    "series_episodes", "viewing_sessions",
)
LOADED_AT_TABLES = ("users", "content", "viewing_sessions")

PLANS = ("Basic", "Standard", "Premium")
QUALITY_ORDER = ("SD", "HD", "4K")


class MissingCoreError(RuntimeError):
    """The core tables are absent or empty: the analysis has nothing honest to say."""


@dataclass(frozen=True)
class AnalysisData:
    """The core as the analyses see it."""

    users: pd.DataFrame       # user_id, age, country, plan, registration_date, lifetime_hours
    content: pd.DataFrame     # content_id, content_type, title, length_minutes, rating, budget, views, ...
    sessions: pd.DataFrame    # session_id, user_id, content_id, watch_date, device, quality, watch_minutes, completion
    fingerprint: dict[str, Any]

    @property
    def data_end(self) -> dt.date:
        """The last day of the session log: the reference day for tenure and the retention split."""
        return self.sessions["watch_date"].max().date()


def query_frame(conn: Any, sql: str, params: tuple[Any, ...] | None = None) -> pd.DataFrame:
    """Run a query on a DB-API connection and return its rows as a data frame."""
    with conn.cursor() as cur:
        cur.execute(sql, params)
        columns = [c.name for c in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=columns)


def fingerprint(conn: Any) -> dict[str, Any]:
    """Row count of every core table and the latest loaded_at of the loaded ones."""
    counts: dict[str, int] = {}
    latest: dict[str, str | None] = {}
    with conn.cursor() as cur:
        for table in FINGERPRINT_TABLES:
            cur.execute(f"select count(*) from core.{table}")
            counts[table] = int(cur.fetchone()[0])
        for table in LOADED_AT_TABLES:
            cur.execute(f"select max(loaded_at) from core.{table}")
            value = cur.fetchone()[0]
            latest[table] = value.isoformat() if value is not None else None
    return {"row_counts": counts, "max_loaded_at": latest}


def _require_core(conn: Any) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "select count(*) from information_schema.tables where table_schema = 'core' and table_name = any(%s)",
            (list(FINGERPRINT_TABLES),),
        )
        found = cur.fetchone()[0]
    if found < len(FINGERPRINT_TABLES):
        raise MissingCoreError(
            f"schema core has {found} of the {len(FINGERPRINT_TABLES)} core tables: "
            "run the pipeline first (ingest, then `dbt build`)."
        )


def load(conn: Any) -> AnalysisData:
    """Everything the analyses need, read from the core now."""
    _require_core(conn)
    users = query_frame(conn, USERS_SQL)
    content = query_frame(conn, CONTENT_SQL)
    sessions = query_frame(conn, SESSIONS_SQL)
    if users.empty or sessions.empty or content.empty:
        raise MissingCoreError(
            f"the core is empty (users {len(users)}, content {len(content)}, sessions {len(sessions)}): "
            "load data and run `dbt build` before analysing."
        )
    users["registration_date"] = pd.to_datetime(users["registration_date"])
    users["age"] = users["age"].astype("float64")
    sessions["watch_date"] = pd.to_datetime(sessions["watch_date"])
    sessions["watch_minutes"] = sessions["watch_minutes"].astype("float64")
    for col in ("length_minutes", "release_year", "seasons", "episode_total"):
        content[col] = pd.to_numeric(content[col]).astype("float64")
    sessions = sessions.sort_values("session_id", kind="stable").reset_index(drop=True)
    users = users.sort_values("user_id", kind="stable").reset_index(drop=True)
    content = content.sort_values("content_id", kind="stable").reset_index(drop=True)
    return AnalysisData(users, content, sessions, fingerprint(conn))


def sessions_with_context(data: AnalysisData) -> pd.DataFrame:
    """Sessions with the user's plan and the title's type (for session-level tests)."""
    out = data.sessions.merge(data.users[["user_id", "plan"]], on="user_id", how="left", validate="m:1")
    return out.merge(data.content[["content_id", "content_type"]], on="content_id", how="left", validate="m:1")


def user_metrics(data: AnalysisData, sessions: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per user: profile columns plus behaviour aggregated from `sessions` (default: all).

    Users without sessions keep a row with sessions = 0, watch_minutes = 0 and missing means.
    tenure_days counts from registration to the last day of the session log.
    """
    s = sessions_with_context(data) if sessions is None else sessions
    s = s.assign(
        is_4k=(s["quality"] == "4K").astype(float),
        is_mobile=(s["device"] == "Mobile").astype(float),
        is_series=(s["content_type"] == "series").astype(float),
    )
    grouped = s.groupby("user_id")
    behaviour = pd.DataFrame({
        "sessions": grouped.size(),
        "watch_minutes": grouped["watch_minutes"].sum(),
        "mean_completion": grouped["completion"].mean(),
        "minutes_per_session": grouped["watch_minutes"].mean(),
        "share_4k": grouped["is_4k"].mean(),
        "share_mobile": grouped["is_mobile"].mean(),
        "share_series": grouped["is_series"].mean(),
        "distinct_titles": grouped["content_id"].nunique(),
        "active_days": grouped["watch_date"].nunique(),
        "last_watch": grouped["watch_date"].max(),
    })
    out = data.users.merge(behaviour, left_on="user_id", right_index=True, how="left")
    for col in ("sessions", "watch_minutes", "distinct_titles", "active_days"):
        out[col] = out[col].fillna(0).astype("float64")
    end = pd.Timestamp(data.data_end)
    out["tenure_days"] = (end - out["registration_date"]).dt.days.astype("float64")
    return out.reset_index(drop=True)
