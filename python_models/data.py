"""Read what the statistics need from the dbt models built for them (dbt_project/models/marts/analysis).

This module is the only place that knows those models' column names; the analyses downstream
use the names of :class:`AnalysisData`. Nothing is cached: every run reads the warehouse.

Sessions are never read row by row, and never aggregated here: dbt builds the frequency tables
of a variable per group (``value, session_count``; see frequencies.py), the counts per category,
the per-day table and the per-user metrics, so the memory of an analysis grows with users,
titles and distinct values, not with sessions. Every query is a plain ``select`` of a model
(python_models.warehouse), resolved through dbt's manifest.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from python_models.frequencies import Freq
from python_models.warehouse import model_exists, query_frame, read_model

__all__ = [
    "AnalysisData",
    "MissingCoreError",
    "SessionAggregates",
    "UserSessionGroups",
    "completion_cells",
    "load",
    "query_frame",
    "retention_features",
]

# A session whose plan, quality level or device is missing counts under this label in the
# analysis models (a primary key has no nulls); here it becomes a missing value again.
UNKNOWN = "unknown"

# The frequency tables: analysis name → (dbt model, grouping column or None, value column).
FREQUENCY_MODELS = {
    "minutes_by_plan": ("ana_session_minutes_by_plan", "subscription_type", "watch_minutes"),
    "completion_by_plan": (
        "ana_session_completion_by_plan",
        "subscription_type",
        "completion_percentage",
    ),
    "completion_by_quality": (
        "ana_session_completion_by_quality",
        "quality_level",
        "completion_percentage",
    ),
    "completion_by_device": (
        "ana_session_completion_by_device",
        "device_type",
        "completion_percentage",
    ),
    "minutes": ("ana_session_minutes_frequencies", None, "watch_minutes"),
    "completion": ("ana_session_completion_frequencies", None, "completion_percentage"),
}

# Every model a run reads; all must be built before an analysis says anything.
ANALYSIS_MODELS = (
    *(m for m, _, _ in FREQUENCY_MODELS.values()),
    "ana_session_minutes_by_day",
    "ana_session_minutes_completion",
    "ana_session_plan_quality",
    "ana_session_device_quality",
    "ana_user_quality_completion",
    "ana_user_session_groups",
    "ana_user_metrics",
    "ana_user_retention_features",
    "ana_user_retention_history",
    "ana_monthly_active_users",
    "ana_content_features",
    "ana_title_sessions",
    "ana_content_genres",
    "ana_core_row_counts",
    "ana_loaded_batches",
    "ana_refused_rows_by_rule",
)

# Tables whose row counts (and, where there is one, latest load time) identify the data a run saw.
FINGERPRINT_TABLES = (
    "users",
    "content",
    "movie_details",
    "series_details",
    "genres",
    "content_genres",
    "series_episodes",
    "viewing_sessions",
)
LOADED_AT_TABLES = ("users", "content", "viewing_sessions")

PLANS = ("Basic", "Standard", "Premium")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
QUALITY_ORDER = ("SD", "HD", "4K")


class MissingCoreError(RuntimeError):
    """The core or the analysis models are absent or empty: the analysis has nothing honest to say."""


@dataclass(frozen=True)
class SessionAggregates:
    """What the analyses know of the sessions: aggregates built by dbt."""

    n: int
    first_day: dt.date
    last_day: dt.date
    frequencies: dict[
        str, dict[str, Freq]
    ]  # table → group ('all' when ungrouped) → frequency table
    plan_quality: pd.DataFrame  # plan, quality, n
    device_quality: pd.DataFrame  # device, quality, n
    daily: pd.DataFrame  # watch_date (every day of the log), sessions, sum_minutes, sum_completion
    minutes_completion: pd.DataFrame  # watch_minutes, completion, n: the joint frequency table
    monthly_users: pd.DataFrame  # month ('YYYY-MM'), active_users

    def freq(self, table: str) -> dict[str, Freq]:
        return self.frequencies.get(table, {})


@dataclass(frozen=True)
class AnalysisData:
    """The core as the analyses see it."""

    users: pd.DataFrame  # one row per user: profile and behaviour (ana_user_metrics)
    content: (
        pd.DataFrame
    )  # content_id, content_type, title, length_minutes, rating, budget, views, ...
    sessions: SessionAggregates
    fingerprint: dict[str, Any]

    @property
    def data_end(self) -> dt.date:
        """The last day of the session log: the reference day for tenure and the retention split."""
        return self.sessions.last_day


def _known(values: pd.Series) -> pd.Series:
    """The analysis models' 'unknown' label as a missing value again."""
    return values.astype(object).where(values != UNKNOWN, None)


def _freq(frame: pd.DataFrame, value: str) -> Freq:
    return Freq.of(frame[value].to_numpy(float), frame["session_count"].to_numpy(np.int64))


def frequency_tables(conn: Any) -> dict[str, dict[str, Freq]]:
    """Every frequency table, by group; a missing group is no group (the overall table counts it)."""
    out: dict[str, dict[str, Freq]] = {}
    for name, (model, key, value) in FREQUENCY_MODELS.items():
        columns = [c for c in (key, value, "session_count") if c]
        frame = read_model(conn, model, columns, floats=(value,))
        if key is None:
            out[name] = {"all": _freq(frame, value)}
            continue
        frame = frame[frame[key] != UNKNOWN]
        out[name] = {str(k): _freq(g, value) for k, g in frame.groupby(key, sort=True)}
    return out


def fingerprint(conn: Any) -> dict[str, Any]:
    """Row count of every core table and the latest loaded_at of the loaded ones."""
    rows = read_model(conn, "ana_core_row_counts", ["table_name", "row_count", "max_loaded_at"])
    by_table = {r.table_name: r for r in rows.itertuples(index=False)}
    missing = [t for t in FINGERPRINT_TABLES if t not in by_table]
    if missing:
        raise MissingCoreError(
            f"ana_core_row_counts has no row for {', '.join(missing)}: rebuild it (`dbt build`)."
        )
    latest = {}
    for table in LOADED_AT_TABLES:
        value = by_table[table].max_loaded_at
        latest[table] = None if value is None or pd.isna(value) else value.isoformat()
    return {
        "row_counts": {t: int(by_table[t].row_count) for t in FINGERPRINT_TABLES},
        "max_loaded_at": latest,
    }


def _require_models(conn: Any) -> None:
    missing = [m for m in ANALYSIS_MODELS if not model_exists(conn, m)]
    if missing:
        raise MissingCoreError(
            f"{len(missing)} of the {len(ANALYSIS_MODELS)} dbt models the analysis reads are not "
            "built: run the pipeline first (ingest, then `dbt build`). Missing: "
            + ", ".join(missing)
        )


def daily_table(conn: Any) -> pd.DataFrame:
    """Per day × watch minutes: sessions and summed completion (ana_session_minutes_by_day)."""
    by_day = read_model(
        conn,
        "ana_session_minutes_by_day",
        ["watch_date", "watch_minutes", "session_count", "sum_completion_percentage"],
        floats=("watch_minutes", "sum_completion_percentage"),
        dates=("watch_date",),
        order_by=("watch_date", "watch_minutes"),
    )
    if by_day.empty:
        raise MissingCoreError(
            "the session log is empty: load data and run `dbt build` before analysing."
        )
    return by_day.assign(weekday=[WEEKDAYS[d] for d in by_day["watch_date"].dt.day_of_week])


def session_aggregates(conn: Any) -> SessionAggregates:
    """Every session-level aggregate, read from the analysis models."""
    by_day = daily_table(conn)
    frequencies = frequency_tables(conn)
    frequencies["minutes_by_weekday"] = {
        str(k): _freq(g, "watch_minutes") for k, g in by_day.groupby("weekday", sort=True)
    }
    daily = (
        by_day.assign(sum_minutes=by_day["watch_minutes"] * by_day["session_count"])
        .groupby("watch_date")[["session_count", "sum_minutes", "sum_completion_percentage"]]
        .sum()
        .rename(
            columns={"session_count": "sessions", "sum_completion_percentage": "sum_completion"}
        )
    )
    days = pd.date_range(daily.index.min(), daily.index.max(), freq="D")
    daily = daily.reindex(days, fill_value=0).rename_axis("watch_date").reset_index()
    daily["sessions"] = daily["sessions"].astype(np.int64)
    daily["weekday"] = [WEEKDAYS[d] for d in days.day_of_week]
    plan_quality = read_model(
        conn,
        "ana_session_plan_quality",
        ["subscription_type", "quality_level", "session_count"],
        order_by=("subscription_type", "quality_level"),
    )
    device_quality = read_model(
        conn,
        "ana_session_device_quality",
        ["device_type", "quality_level", "session_count"],
        order_by=("device_type", "quality_level"),
    )
    minutes_completion = read_model(
        conn,
        "ana_session_minutes_completion",
        ["watch_minutes", "completion_percentage", "session_count"],
        floats=("watch_minutes", "completion_percentage"),
        order_by=("watch_minutes", "completion_percentage"),
    )
    months = read_model(
        conn,
        "ana_monthly_active_users",
        ["activity_month", "active_users"],
        dates=("activity_month",),
        order_by=("activity_month",),
    )
    return SessionAggregates(
        n=int(daily["sessions"].sum()),
        first_day=days[0].date(),
        last_day=days[-1].date(),
        frequencies=frequencies,
        plan_quality=pd.DataFrame(
            {
                "plan": _known(plan_quality["subscription_type"]),
                "quality": _known(plan_quality["quality_level"]),
                "n": plan_quality["session_count"].astype(np.int64),
            }
        ),
        device_quality=pd.DataFrame(
            {
                "device": _known(device_quality["device_type"]),
                "quality": _known(device_quality["quality_level"]),
                "n": device_quality["session_count"].astype(np.int64),
            }
        ),
        daily=daily,
        minutes_completion=pd.DataFrame(
            {
                "watch_minutes": minutes_completion["watch_minutes"],
                "completion": minutes_completion["completion_percentage"],
                "n": minutes_completion["session_count"].astype(np.int64),
            }
        ),
        monthly_users=pd.DataFrame(
            {
                "month": months["activity_month"].dt.strftime("%Y-%m"),
                "active_users": months["active_users"].astype(np.int64),
            }
        ),
    )


class UserSessionGroups:
    """ana_user_session_groups (per grouping kind, user and level: sessions, Σ and Σ² of
    completion and watch minutes), read one grouping kind at a time.

    The largest model the statistics read (3.3 M rows at scale 45, over 300 MB as a frame, and
    each use's subset copied it again): held whole, it took the analysis past 1 GB. Every use
    reads one kind (quality, device or weekday), so only the kind in use is held, and only the
    columns the uses need, in the warehouse's row order: each use builds a per-user and level
    table keyed by sorted user ids (clustered.UserSums.from_long, a pivot), the same whatever
    order the rows came in. Weekdays are named as WEEKDAYS.
    """

    COLUMNS = (
        "user_id",
        "group_level",
        "session_count",
        "completion_count",
        "sum_completion",
        "sum_sq_completion",
        "minutes_count",
        "sum_minutes",
        "sum_sq_minutes",
    )

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._kind: str | None = None
        self._frame: pd.DataFrame | None = None

    def of(self, kind: str) -> pd.DataFrame:
        """The rows of grouping `kind`: user_id, group_level and the sums."""
        if kind != self._kind:
            self._kind, self._frame = None, None  # the previous kind goes before the next comes
            frame = read_model(
                self._conn,
                "ana_user_session_groups",
                self.COLUMNS,
                floats=("sum_completion", "sum_sq_completion", "sum_minutes", "sum_sq_minutes"),
                where={"group_kind": kind},
            )
            if kind == "weekday":
                frame["group_level"] = [WEEKDAYS[int(d) - 1] for d in frame["group_level"]]
            self._kind, self._frame = kind, frame
        assert self._frame is not None
        return self._frame


def user_session_groups(conn: Any) -> UserSessionGroups:
    """The per-user sums of ana_user_session_groups (one of ANALYSIS_MODELS, whose presence
    load() checks), read one grouping kind at a time as the uses ask."""
    return UserSessionGroups(conn)


def completion_cells(conn: Any) -> pd.DataFrame:
    """Per user and quality level: sessions, sum and within-cell sum of squares of completion.

    `cluster` numbers the users 0, 1, … in user_id order (rows of one user are not independent).
    """
    cells = read_model(
        conn,
        "ana_user_quality_completion",
        [
            "user_id",
            "quality_level",
            "subscription_type",
            "session_count",
            "sum_completion_percentage",
            "within_sum_of_squares",
        ],
        floats=("sum_completion_percentage", "within_sum_of_squares"),
        order_by=("user_id", "quality_level"),
    )
    return pd.DataFrame(
        {
            "cluster": pd.factorize(cells["user_id"], sort=True)[0] + 1,
            "quality": cells["quality_level"],
            "plan": cells["subscription_type"],
            "n": cells["session_count"].astype(np.int64),
            "sum_y": cells["sum_completion_percentage"],
            "ss_y": cells["within_sum_of_squares"],
        }
    )


RETENTION_COLUMNS = (
    "user_id",
    "sessions_before",
    "watch_minutes_before",
    "mean_completion_before",
    "active_days_before",
    "last_session",
    "share_4k_before",
    "share_mobile_before",
    "sessions_last_30_days",
)


# The feature columns ana_user_retention_features and ana_user_retention_history share.
RETENTION_MODEL_COLUMNS = (
    "user_id",
    "cutoff_date",
    "sessions_before",
    "watch_minutes_before",
    "mean_completion_before",
    "active_days_before",
    "last_session_before",
    "share_4k_before",
    "share_mobile_before",
    "sessions_last_30_days",
)


def retention_features(conn: Any, cutoff: dt.date) -> tuple[pd.DataFrame, set[str]]:
    """The retention model's inputs (ana_user_retention_features) for the split at `cutoff`.

    Returns the per-user aggregates of the sessions strictly before `cutoff` (users with such a
    session) and the users with a session on or after it. The model computes its own cutoff
    from the log; a different one here means the model and this run saw different data.
    """
    rows = read_model(
        conn,
        "ana_user_retention_features",
        [*RETENTION_MODEL_COLUMNS, "is_retained"],
        dates=("cutoff_date", "last_session_before"),
        order_by=("user_id",),
    )
    found = set(rows["cutoff_date"].dt.date)
    if found - {cutoff}:
        raise MissingCoreError(
            f"ana_user_retention_features splits at {sorted(found)}, this run at {cutoff}: "
            "rebuild the analysis models (`dbt build`) on the data being analysed."
        )
    before = rows[rows["sessions_before"] > 0].rename(
        columns={"last_session_before": "last_session"}
    )
    before = before[list(RETENTION_COLUMNS)].reset_index(drop=True)
    retained = set(rows.loc[rows["is_retained"].astype(bool), "user_id"])
    return before, retained


def retention_history(conn: Any) -> dict[dt.date, tuple[pd.DataFrame, set[str]]]:
    """Per cutoff of ana_user_retention_history (the log's last two month starts): the per-user
    aggregates of the sessions before it (as retention_features) and the users who watched in
    the calendar month starting at it."""
    rows = read_model(
        conn,
        "ana_user_retention_history",
        [*RETENTION_MODEL_COLUMNS, "watched_next_month"],
        dates=("cutoff_date", "last_session_before"),
        order_by=("cutoff_date", "user_id"),
    )
    out = {}
    for cutoff, part in rows.groupby(rows["cutoff_date"].dt.date, sort=True):
        before = part[part["sessions_before"] > 0].rename(
            columns={"last_session_before": "last_session"}
        )
        watched = set(part.loc[part["watched_next_month"].astype(bool), "user_id"])
        out[cutoff] = (before[list(RETENTION_COLUMNS)].reset_index(drop=True), watched)
    return out


def users_frame(conn: Any) -> pd.DataFrame:
    """One row per user: profile and behaviour, in user_id order."""
    users = read_model(
        conn,
        "ana_user_metrics",
        [
            "user_id",
            "age",
            "country",
            "subscription_type",
            "registration_date",
            "lifetime_watch_hours",
            "session_count",
            "watch_minutes",
            "mean_completion",
            "minutes_per_session",
            "share_4k",
            "share_mobile",
            "share_series",
            "tenure_days",
        ],
        floats=(
            "age",
            "lifetime_watch_hours",
            "session_count",
            "watch_minutes",
            "mean_completion",
            "minutes_per_session",
            "share_4k",
            "share_mobile",
            "share_series",
            "tenure_days",
        ),
        dates=("registration_date",),
        order_by=("user_id",),
    )
    return users.rename(
        columns={
            "subscription_type": "plan",
            "lifetime_watch_hours": "lifetime_hours",
            "session_count": "sessions",
        }
    )


def content_frame(conn: Any) -> pd.DataFrame:
    """One row per title, in content_id order."""
    content = read_model(
        conn,
        "ana_content_features",
        [
            "content_id",
            "content_type",
            "title",
            "content_length_minutes",
            "rating",
            "production_budget",
            "views",
            "release_year",
            "season_count",
            "episode_total",
        ],
        floats=(
            "content_length_minutes",
            "rating",
            "production_budget",
            "views",
            "release_year",
            "season_count",
            "episode_total",
        ),
        order_by=("content_id",),
    )
    content = content.rename(
        columns={
            "content_length_minutes": "length_minutes",
            "production_budget": "budget",
            "season_count": "seasons",
        }
    )
    observed = read_model(
        conn, "ana_title_sessions", ["content_id", "session_count", "viewer_count"]
    )
    genres = read_model(conn, "ana_content_genres", ["content_id", "genre"])
    flags = (
        pd.crosstab(genres["content_id"], genres["genre"]).clip(upper=1).astype(float)
        if not genres.empty
        else pd.DataFrame(index=pd.Index([], name="content_id"))
    )
    flags.columns = [f"genre_{g}" for g in flags.columns]
    content = content.merge(observed, on="content_id", how="left").merge(
        flags, left_on="content_id", right_index=True, how="left"
    )
    for column in ("session_count", "viewer_count", *flags.columns):
        content[column] = content[column].fillna(0).astype(float)
    return content


def load(conn: Any) -> AnalysisData:
    """Everything the analyses need, read from the analysis models now."""
    _require_models(conn)
    content = content_frame(conn)
    if content.empty:
        raise MissingCoreError(
            "the catalogue is empty: load data and run `dbt build` before analysing."
        )
    sessions = session_aggregates(conn)
    users = users_frame(conn)
    if users.empty:
        raise MissingCoreError("no users: load data and run `dbt build` before analysing.")
    return AnalysisData(users, content, sessions, fingerprint(conn))
