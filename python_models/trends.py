"""Viewing over time, from each session's watch_date: monthly, weekday and daily series.

All of them come from the per-day counts and sums PostgreSQL computes (data.SessionAggregates).

Series rows are chart-ready points for analysis.series (series, measure, point_index, x_label,
x, y, n). Months are calendar months of the log; a month only partly covered by the log says
so through its `days` count (n of the 'days_in_data' measure). Weekday means are per calendar
day, so a weekday that occurs more often in the log does not look busier for that reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from python_models.correlations import correlation_result
from python_models.data import WEEKDAYS, SessionAggregates
from python_models.results import Result


def _points(
    series: str,
    measure: str,
    labels: list[str],
    values: list[float],
    n: list[int] | None = None,
    x: list[float] | None = None,
) -> list[dict[str, Any]]:
    return [
        {
            "series": series,
            "measure": measure,
            "point_index": i,
            "x_label": label,
            "x": float(x[i]) if x is not None else float(i),
            "y": float(v),
            "n": int(n[i]) if n is not None else None,
        }
        for i, (label, v) in enumerate(zip(labels, values))
    ]


def monthly(sessions: SessionAggregates) -> list[dict[str, Any]]:
    """Sessions, watch minutes, mean completion, active users and days covered, per month."""
    days = sessions.daily[sessions.daily["sessions"] > 0]
    g = days.groupby(days["watch_date"].dt.strftime("%Y-%m"))
    per_month = pd.DataFrame(
        {
            "sessions": g["sessions"].sum(),
            "watch_minutes": g["sum_minutes"].sum(),
            "sum_completion": g["sum_completion"].sum(),
            "days": g.size(),
        }
    ).join(sessions.monthly_users.set_index("month"))
    labels = list(per_month.index)
    n = [int(v) for v in per_month["sessions"]]
    out = _points("monthly", "sessions", labels, n, n)
    out += _points("monthly", "watch_minutes", labels, per_month["watch_minutes"].tolist(), n)
    out += _points(
        "monthly",
        "mean_completion",
        labels,
        (per_month["sum_completion"] / per_month["sessions"]).tolist(),
        n,
    )
    out += _points("monthly", "active_users", labels, per_month["active_users"].tolist(), n)
    out += _points("monthly", "days_in_data", labels, per_month["days"].tolist(), n)
    return out


def weekday(sessions: SessionAggregates) -> list[dict[str, Any]]:
    """Per weekday: total sessions, sessions per calendar day, mean completion and minutes."""
    days = sessions.daily
    per_day = days.groupby("weekday")["sessions"]
    wd = days.groupby("weekday")[["sessions", "sum_minutes", "sum_completion"]].sum()
    labels = list(WEEKDAYS)
    n_days = [int(per_day.size().get(d, 0)) for d in labels]
    totals = [int(wd["sessions"].get(d, 0)) for d in labels]
    ratio = lambda col, d: (
        float(wd[col][d] / wd["sessions"][d]) if totals[labels.index(d)] else np.nan
    )
    out = _points("weekday", "sessions", labels, totals, totals)
    out += _points(
        "weekday",
        "sessions_per_day",
        labels,
        [float(per_day.mean().get(d, np.nan)) for d in labels],
        n_days,
    )
    out += _points(
        "weekday", "mean_completion", labels, [ratio("sum_completion", d) for d in labels], totals
    )
    out += _points(
        "weekday", "mean_watch_minutes", labels, [ratio("sum_minutes", d) for d in labels], totals
    )
    return out


def daily(sessions: SessionAggregates) -> list[dict[str, Any]]:
    days = sessions.daily
    labels = [d.strftime("%Y-%m-%d") for d in days["watch_date"]]
    return _points("daily", "sessions", labels, days["sessions"].tolist())


def run(sessions: SessionAggregates) -> tuple[list[Result], list[dict[str, Any]]]:
    """The series, and a Spearman test of a monotone trend in sessions per day over the log."""
    days = sessions.daily
    index = np.arange(days.shape[0], dtype=float)
    trend = correlation_result(
        index,
        days["sessions"].to_numpy(dtype=float),
        method="spearman",
        name="daily_sessions_trend",
        variables="day_index ~ sessions_per_day",
        words=("day of the log", "sessions that day"),
        level="day",
    )
    trend = trend.with_(
        section="trend",
        details={
            **trend.details,
            "first_day": str(days["watch_date"].min().date()),
            "last_day": str(days["watch_date"].max().date()),
        },
    )
    return [trend], monthly(sessions) + weekday(sessions) + daily(sessions)
