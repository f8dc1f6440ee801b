"""Exact statistics of a sample held as a frequency table (distinct values and their counts).

Session-level variables have few distinct values whatever the number of sessions (watch
minutes are whole minutes, completion has one decimal between 0 and 100), so PostgreSQL
returns ``value, count(*)`` per group and every statistic below is computed from that table:
memory grows with the distinct values, not with the rows. Each function gives the same number
as its row-based counterpart (numpy's linear-interpolation percentiles, scipy's bias-adjusted
skewness and kurtosis, D'Agostino's K², Brown–Forsythe's Levene, Kruskal–Wallis with ties),
up to floating-point summation order; tests/test_stats_units.py checks each against them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Freq:
    """A sample as sorted distinct values and how often each occurs (counts > 0)."""

    values: np.ndarray  # float64, strictly increasing
    counts: np.ndarray  # int64, same length

    @classmethod
    def of(cls, values: np.ndarray, counts: np.ndarray) -> Freq:
        """From (value, count) pairs in any order; missing values and zero counts are dropped."""
        v = np.asarray(values, dtype=float)
        c = np.asarray(counts, dtype=np.int64)
        keep = np.isfinite(v) & (c > 0)
        v, c = v[keep], c[keep]
        uniq, inverse = np.unique(v, return_inverse=True)
        return cls(uniq, np.bincount(inverse, weights=c, minlength=uniq.shape[0]).astype(np.int64))

    @classmethod
    def from_sample(cls, x: np.ndarray) -> Freq:
        """From raw observations (missing values dropped)."""
        x = np.asarray(x, dtype=float)
        uniq, counts = np.unique(x[np.isfinite(x)], return_counts=True)
        return cls(uniq, counts.astype(np.int64))

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def mean(self) -> float:
        return float((self.counts * self.values).sum() / self.n)

    def central_moment(self, k: int) -> float:
        """Σ c·(v − mean)^k / n (the biased moment, as scipy uses it)."""
        return float((self.counts * (self.values - self.mean()) ** k).sum() / self.n)

    def var(self, ddof: int = 1) -> float:
        return float((self.counts * (self.values - self.mean()) ** 2).sum() / (self.n - ddof))

    def sd(self, ddof: int = 1) -> float:
        return float(np.sqrt(self.var(ddof)))

    def order_stat(self, k: np.ndarray | int) -> np.ndarray:
        """The k-th smallest observation (0-based), as the sorted expanded sample would give."""
        return self.values[np.searchsorted(np.cumsum(self.counts), np.asarray(k), side="right")]

    def percentile(self, q: float | list[float]) -> np.ndarray:
        """numpy's default (linear) percentile of the expanded sample."""
        h = (self.n - 1) * np.asarray(q, dtype=float) / 100.0
        lo = np.floor(h).astype(np.int64)
        hi = np.minimum(lo + 1, self.n - 1)
        a, b = self.order_stat(lo), self.order_stat(hi)
        return a + (h - lo) * (b - a)

    def median(self) -> float:
        return float(self.percentile(50.0))

    def mode(self) -> tuple[float, int]:
        """The most frequent value (the smallest among ties) and its count."""
        i = int(np.argmax(self.counts))
        return float(self.values[i]), int(self.counts[i])

    def count_where(self, mask: np.ndarray) -> int:
        return int(self.counts[mask].sum())

    def skew(self) -> float:
        """Bias-adjusted sample skewness G1 (scipy.stats.skew(bias=False))."""
        n, m2, m3 = self.n, self.central_moment(2), self.central_moment(3)
        return float(m3 / m2**1.5 * np.sqrt(n * (n - 1)) / (n - 2))

    def excess_kurtosis(self) -> float:
        """Bias-adjusted excess kurtosis G2 (scipy.stats.kurtosis(fisher=True, bias=False))."""
        n, m2, m4 = self.n, self.central_moment(2), self.central_moment(4)
        return float(((n * n - 1.0) * m4 / m2**2 - 3 * (n - 1) ** 2.0) / ((n - 2) * (n - 3)))

    def abs_deviation(self, centre: float) -> Freq:
        """The frequency table of |x − centre|."""
        return Freq.of(np.abs(self.values - centre), self.counts)

    def sample(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """A simple random sample without replacement of `size` observations.

        Draws positions in the value-sorted expanded sample; it consumes the generator exactly
        as ``rng.choice(rows, size, replace=False)`` on the rows would.
        """
        return self.order_stat(np.sort(rng.choice(self.n, size, replace=False)))


def dagostino_k2(f: Freq) -> tuple[float, float]:
    """D'Agostino–Pearson K² and its p-value, as scipy.stats.normaltest (n ≥ 20)."""
    n = float(f.n)
    m2, m3, m4 = f.central_moment(2), f.central_moment(3), f.central_moment(4)
    b1 = m3 / m2**1.5
    y = b1 * np.sqrt(((n + 1) * (n + 3)) / (6.0 * (n - 2)))
    beta2 = (
        3.0 * (n**2 + 27 * n - 70) * (n + 1) * (n + 3) / ((n - 2.0) * (n + 5) * (n + 7) * (n + 9))
    )
    w2 = -1 + np.sqrt(2 * (beta2 - 1))
    delta = 1 / np.sqrt(0.5 * np.log(w2))
    alpha = np.sqrt(2.0 / (w2 - 1))
    y = 1.0 if y == 0 else y
    z_skew = delta * np.log(y / alpha + np.sqrt((y / alpha) ** 2 + 1))
    b2 = m4 / m2**2
    e = 3.0 * (n - 1) / (n + 1)
    varb2 = 24.0 * n * (n - 2) * (n - 3) / ((n + 1) * (n + 1.0) * (n + 3) * (n + 5))
    x = (b2 - e) / varb2**0.5
    sqrtbeta1 = (
        6.0
        * (n * n - 5 * n + 2)
        / ((n + 7) * (n + 9))
        * ((6.0 * (n + 3) * (n + 5)) / (n * (n - 2) * (n - 3))) ** 0.5
    )
    a = 6.0 + 8.0 / sqrtbeta1 * (2.0 / sqrtbeta1 + (1 + 4.0 / (sqrtbeta1**2)) ** 0.5)
    term1 = 1 - 2 / (9.0 * a)
    denom = 1 + x * (2 / (a - 4.0)) ** 0.5
    term2 = np.sign(denom) * ((1 - 2.0 / a) / abs(denom)) ** (1 / 3) if denom != 0 else np.nan
    z_kurt = (term1 - term2) / (2 / (9.0 * a)) ** 0.5
    k2 = float(z_skew**2 + z_kurt**2)
    return k2, float(stats.chi2.sf(k2, 2))


def levene_median(groups: list[Freq]) -> tuple[float, float]:
    """Brown–Forsythe (median-centred) Levene W and p, as scipy.stats.levene(center='median')."""
    z = [g.abs_deviation(g.median()) for g in groups]
    k = len(z)
    n_g = np.array([g.n for g in z], dtype=float)
    big_n = n_g.sum()
    means = np.array([g.mean() for g in z])
    grand = (n_g * means).sum() / big_n
    between = (n_g * (means - grand) ** 2).sum()
    within = sum(float((g.counts * (g.values - m) ** 2).sum()) for g, m in zip(z, means))
    w = (big_n - k) / (k - 1) * between / within
    return float(w), float(stats.f.sf(w, k - 1, big_n - k))


def common_counts(groups: list[Freq]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The distinct values of all groups together, and each group's counts over them (1 × K rows)."""
    values = np.unique(np.concatenate([g.values for g in groups]))
    return values, [
        np.bincount(np.searchsorted(values, g.values), weights=g.counts, minlength=values.shape[0])[
            None, :
        ]
        for g in groups
    ]
