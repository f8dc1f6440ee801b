"""Pairwise correlations with p-values, Fisher-z confidence intervals and a Holm correction.

Pearson's r measures a linear relation, Spearman's ρ a monotone one; both are reported for each
pair so a reader sees when they disagree (outliers, curvature). 95 % CIs use Fisher's z:
SE = 1/√(n−3) for Pearson, √((1 + ρ²/2)/(n−3)) for Spearman (Bonett & Wright 2000). All
correlations of a run form one family: their p-values are Holm-adjusted together and the
verdict uses the adjusted value.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from python_models.results import Result, fmt_p, insufficient

Z95 = float(stats.norm.ppf(0.975))

# Per-user variables correlated with each other, and how a sentence names them.
USER_VARIABLES = {
    "age": "age",
    "watch_minutes": "watch minutes in the session log",
    "mean_completion": "mean completion",
    "lifetime_hours": "lifetime watch hours",
    "tenure_days": "tenure (days since registration)",
}
METHODS = ("pearson", "spearman")


def fisher_ci(r: float, n: int, method: str) -> tuple[float, float]:
    """95 % CI of a correlation through Fisher's z transform."""
    if n <= 3 or not np.isfinite(r):
        return float("nan"), float("nan")
    r_c = float(np.clip(r, -0.999999, 0.999999))
    se = 1 / np.sqrt(n - 3) if method == "pearson" else np.sqrt((1 + r_c * r_c / 2) / (n - 3))
    z = np.arctanh(r_c)
    return float(np.tanh(z - Z95 * se)), float(np.tanh(z + Z95 * se))


def correlate(x: np.ndarray, y: np.ndarray, method: str) -> tuple[float, float, int]:
    """(coefficient, two-sided p-value, n) over the pairs where both values are present."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    fn = stats.pearsonr if method == "pearson" else stats.spearmanr
    res = fn(x, y)
    return float(res.statistic), float(res.pvalue), int(x.shape[0])


def _strength(r: float) -> str:
    a = abs(r)
    # "negligible" is a verdict word (effect_sizes): the point estimate alone is only "very weak".
    return "very weak" if a < 0.1 else "weak" if a < 0.3 else "moderate" if a < 0.5 else "strong"


def p_value(r: float, n: int, method: str) -> float:
    """Two-sided p-value of a coefficient from n pairs, as scipy's pearsonr / spearmanr give it."""
    if method == "pearson":
        ab = n / 2 - 1
        return float(2 * stats.beta(ab, ab, loc=-1, scale=2).sf(abs(r)))
    with np.errstate(divide="ignore"):
        t = r * np.sqrt((n - 2) / ((r + 1.0) * (1.0 - r)))
    return float(2 * stats.t.sf(abs(t), n - 2))


def correlation_result(
    x: np.ndarray,
    y: np.ndarray,
    *,
    method: str,
    name: str,
    variables: str,
    words: tuple[str, str],
    level: str,
) -> Result:
    """One correlation as a result row (verdict set later, from the family's adjusted p)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 4 or np.ptp(x[keep]) == 0 or np.ptp(y[keep]) == 0:
        return insufficient(
            "correlation",
            name,
            variables,
            int(keep.sum()),
            "fewer than 4 complete pairs, or a variable without variation",
        )
    r, p, n = correlate(x, y, method)
    return coefficient_result(
        r, p, n, method=method, name=name, variables=variables, words=words, level=level
    )


def coefficient_result(
    r: float,
    p: float,
    n: int,
    *,
    method: str,
    name: str,
    variables: str,
    words: tuple[str, str],
    level: str,
) -> Result:
    """A computed coefficient (r, p, n) as a result row, with its Fisher-z interval."""
    if n < 4 or not np.isfinite(r):
        return insufficient(
            "correlation",
            name,
            variables,
            int(n),
            "fewer than 4 complete pairs, or a variable without variation",
        )
    low, high = fisher_ci(r, n, method)
    effect_name = "pearson_r" if method == "pearson" else "spearman_rho"
    sign = "positive" if r > 0 else "negative"
    interpretation = (
        f"{words[0]} and {words[1]}: {_strength(r)} {sign} {method.capitalize()} correlation "
        f"({effect_name} {r:.3f}, 95% CI [{low:.3f}, {high:.3f}], {fmt_p(p)}, n = {n})."
    )
    return Result(
        section="correlation",
        name=name,
        variables=variables,
        statistic_name=effect_name,
        statistic=r,
        p_value=p,
        effect_name=effect_name,
        effect=r,
        ci_low=low,
        ci_high=high,
        n=n,
        interpretation=interpretation,
        details={
            "method": method,
            "level": level,
            "ci": "Fisher z, 95%",
            "x": variables.split(" ~ ")[0],
            "y": variables.split(" ~ ")[1],
        },
    )


def _weighted_pearson(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    total = w.sum()
    dx, dy = x - (w @ x) / total, y - (w @ y) / total
    return float((w * dx) @ dy / np.sqrt(((w * dx) @ dx) * ((w * dy) @ dy)))


def _midranks(values: np.ndarray, w: np.ndarray) -> np.ndarray:
    # The average rank of each row's value among all rows (ties share it), from value counts.
    _, inverse = np.unique(values, return_inverse=True)
    counts = np.bincount(inverse, weights=w)
    return (np.cumsum(counts) - (counts - 1) / 2)[inverse]


def table_correlations(x: np.ndarray, y: np.ndarray, n: np.ndarray) -> dict[str, float]:
    """Pearson's r and Spearman's ρ of the rows of a joint frequency table (value pairs and counts).

    Spearman's ρ is Pearson's r of the midranks, and a value's midrank depends only on the value.
    """
    x, y, w = np.asarray(x, dtype=float), np.asarray(y, dtype=float), np.asarray(n, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y) & (w > 0)
    x, y, w = x[keep], y[keep], w[keep]
    return {
        "n": int(w.sum()),
        "pearson": _weighted_pearson(x, y, w),
        "spearman": _weighted_pearson(_midranks(x, w), _midranks(y, w), w),
    }


def run(users: pd.DataFrame, minutes_completion: pd.DataFrame) -> list[Result]:
    """Every pair of USER_VARIABLES (per user) and watched minutes ~ completion (per session).

    `minutes_completion` is the joint frequency table of the sessions' watch minutes and
    completion (columns watch_minutes, completion, n; data.SessionAggregates).
    """
    t = minutes_completion
    session_pair = table_correlations(
        t["watch_minutes"].to_numpy(), t["completion"].to_numpy(), t["n"].to_numpy()
    )
    out: list[Result] = []
    for a, b in combinations(USER_VARIABLES, 2):
        for method in METHODS:
            out.append(
                correlation_result(
                    users[a].to_numpy(),
                    users[b].to_numpy(),
                    method=method,
                    name=f"{method}_{a}__{b}",
                    variables=f"{a} ~ {b}",
                    words=(USER_VARIABLES[a], USER_VARIABLES[b]),
                    level="user",
                )
            )
    n = int(session_pair["n"])
    for method in METHODS:
        r = float(session_pair[method])
        out.append(
            coefficient_result(
                r,
                p_value(r, n, method),
                n,
                method=method,
                name=f"{method}_session_watch_minutes__completion",
                variables="watch_minutes ~ completion",
                words=("watched minutes of a session", "its completion"),
                level="session",
            )
        )
        # Completion is watched minutes over the title's length: the relation is built into the
        # data's definition, not something learnt about viewers. Said so, never a finding.
        out[-1] = out[-1].with_(
            details={
                **out[-1].details,
                "definitional": "completion is watch minutes divided by the title's length",
            }
        )
    return out
