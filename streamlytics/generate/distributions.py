"""Marginal distributions of the course data (DATA_FORMAT.md), as constants and samplers.

The numbers here are the measured facts of the real files; the samplers turn them into
vectorised draws. Nothing in this module knows about files or ids.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from scipy.special import betaincinv, gammainc, gammaincinv, ndtr

EPOCH = dt.date(1970, 1, 1)


def day_number(day: dt.date) -> int:
    """Days since 1970-01-01 (the unit numpy's datetime64[D] uses)."""
    return (day - EPOCH).days


# users.csv
AGE_MIN, AGE_MAX = 18, 65
COUNTRIES = ("Mexico", "Colombia", "Argentina", "Chile", "Peru")
COUNTRY_P = (0.30, 0.24, 0.21, 0.15, 0.10)
PLANS = ("Basic", "Standard", "Premium")
PLAN_P = (0.40, 0.36, 0.24)
REGISTRATION_FIRST = day_number(dt.date(2022, 1, 1))
REGISTRATION_LAST = day_number(dt.date(2024, 3, 1))
# Lifetime hours: a truncated gamma per plan. Premium is twice Basic; the overall mean is ≈ 335.
LIFETIME_HOURS_MEAN = (236.0, 354.0, 472.0)
LIFETIME_HOURS_SHAPE = 4.0
LIFETIME_HOURS_MIN, LIFETIME_HOURS_MAX = 9.8, 1093.1

# Sessions per user: 8 + 96 × Beta(2, 3.252), so 8–104 with mean ≈ 44.56 (222,785 / 5,000).
SESSIONS_MIN, SESSIONS_MAX = 8, 104
SESSIONS_BETA = (2.0, 3.252)

# viewing_sessions.csv
WATCH_FIRST = day_number(dt.date(2024, 1, 1))
WATCH_LAST = day_number(dt.date(2024, 8, 31))
DEVICES = ("Smart TV", "Mobile", "Desktop", "Tablet", "Gaming Console")
DEVICE_P = (0.36, 0.31, 0.14, 0.14, 0.05)
QUALITIES = ("HD", "4K", "SD")
# Per plan (Basic, Standard, Premium): Premium streams more 4K (37 % vs 24 %); the session-weighted
# mix is HD 49 / 4K 28 / SD 23 because sessions per user do not depend on the plan.
QUALITY_P_BY_PLAN = (
    (0.50, 0.24, 0.26),
    (0.506, 0.264, 0.230),
    (0.45, 0.37, 0.18),
)
# Completion share of the content's length: Beta with plan means 0.68 / 0.79 / 0.88.
COMPLETION_MEAN_BY_PLAN = (0.68, 0.79, 0.88)
COMPLETION_CONCENTRATION = 6.0
COMPLETION_MIN = 0.10
# The reported completion is 100 × minutes / length plus a little recording noise (in points),
# never more than COMPLETION_NOISE_MAX away.
COMPLETION_NOISE_SD = 1.0
COMPLETION_NOISE_MAX = 3.0
WATCH_MINUTES_MIN = 2

# content.json
GENRES = (
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
)
MOVIE_DURATION = (81, 180)
RELEASE_YEAR = (2020, 2024)
RATING = (1.0, 5.0)
MOVIE_VIEWS = (2_000, 300_000)
MOVIE_BUDGET = (1_600_000, 300_000_000)
SERIES_SEASONS = (1, 8)
SERIES_EPISODES = (6, 24)
SERIES_EPISODE_DURATION = (20, 60)
SERIES_VIEWS = (11_000, 365_000)
SERIES_BUDGET = (5_000_000, 500_000_000)
# Latent (Gaussian-copula) correlations with views. Spearman = 6/π·asin(r/2): r 0.313 gives 0.30,
# r 0.22 gives 0.21 (inside the real 0.15–0.27). Seasons are drawn independently of views.
RATING_VIEWS_R = 0.313
BUDGET_VIEWS_R = 0.22


def categorical(rng: np.random.Generator, p: tuple[float, ...], n: int) -> np.ndarray:
    """n category indices (int8) drawn with probabilities p."""
    cum = np.cumsum(p)
    cum /= cum[-1]
    return np.searchsorted(cum, rng.random(n), side="right").astype(np.int8)


def stratified_days(rng: np.random.Generator, first: int, last: int, n: int) -> np.ndarray:
    """n day numbers in [first, last], one per equal-width stratum, in random order.

    Stratifying keeps the uniform marginal exact even for a handful of users, and guarantees that
    every stratum (e.g. the last weeks before the watch window) is represented.
    """
    u = stratified_uniforms(rng, n)
    span = last - first + 1
    return first + np.minimum((u * span).astype(np.int64), span - 1)


def truncated_gamma(
    rng: np.random.Generator, mean: np.ndarray, shape: float, low: float, high: float
) -> np.ndarray:
    """Gamma draws with the given per-row mean, truncated to [low, high] by inverse CDF."""
    scale = mean / shape
    lo = gammainc(shape, low / scale)
    hi = gammainc(shape, high / scale)
    p = lo + rng.random(mean.shape[0]) * (hi - lo)
    return np.clip(scale * gammaincinv(shape, p), low, high)


def correlated_uniforms(
    rng: np.random.Generator, n: int, correlations: tuple[float, ...]
) -> tuple[np.ndarray, ...]:
    """A base uniform and one uniform per correlation, each tied to the base by a Gaussian copula.

    The noise is made exactly uncorrelated with the base within the sample, so the sample's
    latent correlation equals the target even for a catalogue of a few hundred titles (instead
    of wandering ±0.07 around it).
    """
    base = rng.standard_normal(n)
    out = [ndtr(base)]
    for r in correlations:
        noise = rng.standard_normal(n)
        if n >= 3:
            centred = base - base.mean()
            noise = noise - noise.mean()
            noise = noise - centred * (noise @ centred) / (centred @ centred)
            noise = noise / (noise.std() or 1.0) * (base.std() or 1.0)
        out.append(ndtr(r * base + np.sqrt(1.0 - r * r) * noise))
    return tuple(out)


def stratified_uniforms(rng: np.random.Generator, n: int) -> np.ndarray:
    """n uniforms in [0, 1), one per equal-width stratum, in random order."""
    return (rng.permutation(n) + rng.random(n)) / n


def session_counts(rng: np.random.Generator, n: int) -> np.ndarray:
    """Sessions per user: 8 + 96 × Beta, drawn stratified so a block's total hits the mean closely."""
    share = betaincinv(*SESSIONS_BETA, stratified_uniforms(rng, n))
    return SESSIONS_MIN + np.rint((SESSIONS_MAX - SESSIONS_MIN) * share).astype(np.int64)


def scale_uniform(u: np.ndarray, low: float, high: float) -> np.ndarray:
    """Map uniforms in [0, 1) onto integers in [low, high]."""
    return np.minimum(low + np.floor(u * (high - low + 1)), high).astype(np.int64)
