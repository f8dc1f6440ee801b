"""Session-level inference that respects users: sessions of one user are not independent.

Completion has an intra-user correlation of about 0.2 on the course's data, so a test that treats
200k sessions as independent overstates its evidence roughly tenfold (design effect 1 + (m − 1)ρ
with m ≈ 45 sessions per user). Every session-level comparison is therefore computed from per-user
sums (dbt's ana_user_session_groups: for each user and level, sessions, Σy and Σy²):

- p-value: the Wald F test that the level means are equal, with standard errors clustered by user
  (CR1 as statsmodels' cov_type="cluster": small-sample factor G/(G−1)·(N−1)/(N−K), G − 1
  denominator degrees of freedom), the same test as OLS of y on level dummies with clustered SEs;
- effect: η², the share of the sessions' variance between levels (or Cramér's V for a table);
- 95 % CI: percentile user-level cluster bootstrap — users are drawn with replacement, each with
  all of their sessions, and the effect recomputed from the drawn users' sums.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

# Bootstrap weights are drawn in blocks of at most this many (resample, user) cells, so memory
# stays around 16 MB per array whatever the number of users (8 resamples per block at 250k).
BOOT_BLOCK_CELLS = 2_000_000


@dataclass(frozen=True)
class UserSums:
    """Per user (rows) and level (columns): sessions n, Σy and Σy² of one measure."""

    levels: list[str]
    n: np.ndarray  # (users, levels)
    s: np.ndarray
    q: np.ndarray

    @property
    def users(self) -> int:
        return int(self.n.shape[0])

    @staticmethod
    def from_long(
        frame: pd.DataFrame,
        *,
        user: str,
        level: str,
        n: str,
        s: str,
        q: str,
        order: tuple[str, ...] | None = None,
    ) -> UserSums:
        """From one row per user × level (columns `user`, `level`, `n`, `s`, `q`)."""
        present = [str(v) for v in frame[level].dropna().unique()]
        levels = [v for v in order if v in present] if order else sorted(present)
        keep = frame[level].astype(str).isin(levels)
        if not keep.all():  # a copy of the user × level rows only when some are left out
            frame = frame[keep]
        # Users in sorted order, as np.unique would give them, without turning a column of
        # (Arrow) strings into an array of Python objects: at scale 45 that array, and its
        # sorted copy, were the statistics' peak of memory.
        u, users = pd.factorize(frame[user], sort=True)
        col = pd.Index(levels).get_indexer(frame[level].astype(str))
        shape = (users.shape[0], len(levels))
        arrays = []
        for c in (n, s, q):
            a = np.zeros(shape)
            np.add.at(a, (u, col), frame[c].to_numpy(dtype=float))
            arrays.append(a)
        return UserSums(levels, *arrays)


def eta_squared(n: np.ndarray, s: np.ndarray, q: np.ndarray) -> np.ndarray:
    """η² of level sums (..., levels): between-level over total sum of squares of the sessions."""
    total_n, total_s = n.sum(axis=-1), s.sum(axis=-1)
    grand = total_s / total_n
    ss_total = q.sum(axis=-1) - total_n * grand**2
    with np.errstate(divide="ignore", invalid="ignore"):
        between = np.where(n > 0, s**2 / np.where(n > 0, n, 1), 0.0).sum(axis=-1)
    return (between - total_n * grand**2) / ss_total


def cramers_v(table: np.ndarray) -> np.ndarray:
    """Cramér's V of tables (..., rows, cols) (χ² without continuity correction)."""
    total = table.sum(axis=(-2, -1))
    rows, cols = table.sum(axis=-1), table.sum(axis=-2)
    expected = rows[..., :, None] * cols[..., None, :] / total[..., None, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = np.where(expected > 0, (table - expected) ** 2 / expected, 0.0).sum(axis=(-2, -1))
    k = min(table.shape[-2:]) - 1
    return np.sqrt(chi2 / (total * k))


def user_weights(users: int, n_boot: int, rng: np.random.Generator):
    """Blocks of bootstrap weights (how often each user is drawn), n_boot rows in all.

    A resample draws `users` user indices with replacement; its weights are their counts (a
    multinomial, but counted with one bincount per block, far faster than rng.multinomial over
    thousands of categories)."""
    block = max(1, BOOT_BLOCK_CELLS // max(users, 1))
    for start in range(0, n_boot, block):
        size = min(block, n_boot - start)
        picks = rng.integers(0, users, size=(size, users))
        picks += users * np.arange(size)[:, None]  # in place: one (size, users) array, not two
        yield np.bincount(picks.ravel(), minlength=size * users).reshape(size, users).astype(float)


def bootstrap_ci(
    sums: UserSums, rng: np.random.Generator, n_boot: int, statistic: str = "eta_squared"
) -> tuple[float, float]:
    """Percentile 95 % CI of η² (or of Cramér's V of the table Σy vs n − Σy) over user resamples."""
    draws = []
    for w in user_weights(sums.users, n_boot, rng):
        n, s, q = w @ sums.n, w @ sums.s, w @ sums.q
        if statistic == "eta_squared":
            draws.append(eta_squared(n, s, q))
        else:
            draws.append(cramers_v(np.stack([s, n - s], axis=-1)))
    low, high = np.nanpercentile(np.concatenate(draws), [2.5, 97.5])
    return float(low), float(high)


def wald_equal_means(sums: UserSums) -> dict[str, Any]:
    """Wald F test that every level's mean is equal, standard errors clustered by user (CR1)."""
    n_level = sums.n.sum(axis=0)
    mean = sums.s.sum(axis=0) / n_level
    scores = (sums.s - sums.n * mean) / n_level  # each user's influence on each level mean
    g, k, nobs = sums.users, len(sums.levels), float(n_level.sum())
    cov = scores.T @ scores * (g / (g - 1.0) * ((nobs - 1.0) / (nobs - k)))
    contrast = np.column_stack([-np.ones(k - 1), np.eye(k - 1)])
    d = contrast @ mean
    f = float(d @ np.linalg.solve(contrast @ cov @ contrast.T, d) / (k - 1))
    return {
        "F": f,
        "p": float(stats.f.sf(f, k - 1, g - 1)),
        "df": [k - 1, g - 1],
        "clusters": g,
        "means": dict(zip(sums.levels, mean.tolist())),
    }


def design_effect(sums: UserSums) -> float:
    """Variance of the grand mean clustered by user over its variance for independent sessions."""
    n, s = sums.n.sum(axis=1), sums.s.sum(axis=1)
    total_n = n.sum()
    mean = s.sum() / total_n
    var = (sums.q.sum() - total_n * mean**2) / (total_n - 1)
    naive = var / total_n
    clustered = ((s - n * mean) ** 2).sum() / total_n**2
    return float(clustered / naive) if naive > 0 else float("nan")


INFERENCE = (
    "user-clustered: Wald F test with standard errors clustered by user (CR1); 95% CI by a "
    "user-level cluster bootstrap (users drawn with replacement, with all their sessions)"
)


def share_inference(
    k: np.ndarray, n: np.ndarray, null: float, rng: np.random.Generator, n_boot: int
) -> dict[str, Any]:
    """A share of sessions Σk / Σn over users (k of each user's n sessions): one-sided p that it
    exceeds `null` from the user-clustered (linearised) standard error, and a user-level cluster
    bootstrap 95 % CI."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    g = k.shape[0]
    share = k.sum() / n.sum()
    se = float(np.sqrt(g / (g - 1.0) * ((k - share * n) ** 2).sum()) / n.sum())
    draws = []
    for w in user_weights(g, n_boot, rng):
        draws.append((w @ k) / (w @ n))
    low, high = np.nanpercentile(np.concatenate(draws), [2.5, 97.5])
    return {
        "share": float(share),
        "se": se,
        "z": float((share - null) / se) if se > 0 else float("nan"),
        "p": float(stats.norm.sf((share - null) / se)) if se > 0 else float("nan"),
        "ci": [float(low), float(high)],
        "clusters": g,
        "design_effect": float(se**2 / (share * (1 - share) / n.sum())) if 0 < share < 1 else None,
    }
