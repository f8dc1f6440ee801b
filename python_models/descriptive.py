"""Descriptive statistics of one numeric variable, with outliers flagged (never removed).

Outliers are counted two ways and only reported: every inferential step downstream uses all rows.
- IQR rule (Tukey): below Q1 − 1.5·IQR or above Q3 + 1.5·IQR;
- robust z (Iglewicz & Hoaglin): |0.6745·(x − median) / MAD| > 3.5; when the MAD is 0 the
  mean absolute deviation stands in (scaled by 1.2533, its ratio to σ under normality).
Quartiles use linear interpolation (numpy's default); skewness and kurtosis are the
bias-adjusted sample estimates (G1, and G2 as excess kurtosis), as spreadsheets and pandas report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from python_models.data import SessionAggregates
from python_models.frequencies import Freq

IQR_K = 1.5
ROBUST_Z_LIMIT = 3.5
MAD_TO_Z = 0.6745
MEANAD_TO_SIGMA = 1.2533


@dataclass(frozen=True)
class Description:
    """One row of analysis.descriptive."""

    variable: str
    level: str  # the unit a value describes: session, user, movie, series, content
    grp: str  # 'all' or the subgroup (e.g. a plan or a content type)
    n: int
    mean: float | None
    median: float | None
    mode: float | None
    mode_count: int | None
    sd: float | None
    min: float | None
    max: float | None
    q1: float | None
    q3: float | None
    iqr: float | None
    skew: float | None
    kurtosis: float | None
    iqr_low_fence: float | None
    iqr_high_fence: float | None
    n_outliers_iqr: int
    n_outliers_robust_z: int

    def as_row(self) -> dict[str, object]:
        return asdict(self)


def iqr_outliers(x: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Boolean mask of IQR-rule outliers, and the low and high fences."""
    q1, q3 = np.percentile(x, [25, 75])
    iqr = q3 - q1
    low, high = q1 - IQR_K * iqr, q3 + IQR_K * iqr
    return (x < low) | (x > high), float(low), float(high)


def robust_z(x: np.ndarray) -> np.ndarray:
    """Modified z-scores 0.6745·(x − median)/MAD (mean absolute deviation when the MAD is 0)."""
    med = np.median(x)
    mad = np.median(np.abs(x - med))
    if mad > 0:
        return MAD_TO_Z * (x - med) / mad
    mean_ad = np.mean(np.abs(x - med))
    if mean_ad == 0:
        return np.zeros_like(x, dtype=float)
    return (x - med) / (MEANAD_TO_SIGMA * mean_ad)


def robust_z_outliers(x: np.ndarray) -> np.ndarray:
    return np.abs(robust_z(x)) > ROBUST_Z_LIMIT


def describe(
    values: pd.Series | np.ndarray | Freq, variable: str, level: str, grp: str = "all"
) -> Description:
    """All summary figures of the non-missing values (missing values are not counted in n).

    `values` may be the observations or their frequency table; both give the same figures.
    """
    f = (
        values
        if isinstance(values, Freq)
        else Freq.from_sample(pd.Series(values, dtype="float64").to_numpy())
    )
    n = f.n
    if n == 0:
        return Description(variable, level, grp, 0, *([None] * 14), 0, 0)
    q1, median, q3 = (float(v) for v in f.percentile([25, 50, 75]))
    mode, mode_count = f.mode()
    iqr = q3 - q1
    low, high = q1 - IQR_K * iqr, q3 + IQR_K * iqr
    varies = n > 3 and f.values.shape[0] > 1
    return Description(
        variable=variable,
        level=level,
        grp=grp,
        n=n,
        mean=f.mean(),
        median=median,
        mode=mode,
        mode_count=mode_count,
        sd=f.sd() if n > 1 else None,
        min=float(f.values[0]),
        max=float(f.values[-1]),
        q1=q1,
        q3=q3,
        iqr=iqr,
        skew=f.skew() if varies else None,
        kurtosis=f.excess_kurtosis() if varies else None,
        iqr_low_fence=float(low),
        iqr_high_fence=float(high),
        n_outliers_iqr=f.count_where((f.values < low) | (f.values > high)),
        n_outliers_robust_z=robust_z_outlier_count(f, median),
    )


def robust_z_outlier_count(f: Freq, median: float) -> int:
    """How many observations have |robust z| > 3.5 (robust_z, from a frequency table)."""
    deviation = np.abs(f.values - median)
    mad = f.abs_deviation(median).median()
    if mad > 0:
        z = MAD_TO_Z * deviation / mad
    else:
        mean_ad = float((f.counts * deviation).sum() / f.n)
        if mean_ad == 0:
            return 0
        z = deviation / (MEANAD_TO_SIGMA * mean_ad)
    return f.count_where(z > ROBUST_Z_LIMIT)


def describe_by(
    frame: pd.DataFrame, column: str, variable: str, level: str, by: str | None
) -> list[Description]:
    """The description over all rows, then one per value of `by` (sorted), if given."""
    out = [describe(frame[column], variable, level)]
    if by is not None:
        for key, part in sorted(frame.groupby(by, observed=True), key=lambda kv: str(kv[0])):
            out.append(describe(part[column], variable, level, str(key)))
    return out


def describe_tables(
    overall: Freq, groups: dict[str, Freq], variable: str, level: str
) -> list[Description]:
    """As describe_by, from frequency tables: over all rows, then per group (sorted)."""
    return [
        describe(overall, variable, level),
        *(describe(groups[k], variable, level, k) for k in sorted(groups)),
    ]


def run(
    sessions: SessionAggregates, users: pd.DataFrame, content: pd.DataFrame
) -> list[Description]:
    """The variables the course asks about, overall and per plan or content type.

    `sessions` are the session aggregates (data.session_aggregates); `users` one row per user.
    """
    out: list[Description] = []
    out += describe_tables(
        sessions.freq("minutes")["all"],
        sessions.freq("minutes_by_plan"),
        "watch_minutes",
        "session",
    )
    out += describe_tables(
        sessions.freq("completion")["all"],
        sessions.freq("completion_by_plan"),
        "completion_percentage",
        "session",
    )
    out += describe_by(users, "watch_minutes", "watch_minutes_per_user", "user", "plan")
    out += describe_by(users, "mean_completion", "mean_completion_per_user", "user", "plan")
    out += describe_by(users, "lifetime_hours", "lifetime_hours", "user", "plan")
    out += describe_by(users, "age", "age", "user", None)
    out += describe_by(users, "tenure_days", "tenure_days", "user", None)
    for column in ("rating", "budget", "views"):
        out += describe_by(content, column, column, "content", "content_type")
    return out
