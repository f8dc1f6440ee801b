"""The content catalogue: movies and series with the course's keys, domains and correlations.

Rating and views are mildly correlated and budget and views weakly (Gaussian copula, see
:mod:`distributions`); a series' number of seasons is drawn independently of everything else,
so there is deliberately no seasons–views relation to find.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from streamlytics.generate import distributions as d
from streamlytics.generate.scaling import IdFormat

# Small vocabularies on purpose: the real catalogue repeats titles a lot.
_TITLE_FIRST = (
    "Silent",
    "Broken",
    "Golden",
    "Hidden",
    "Last",
    "Lost",
    "Midnight",
    "Crimson",
    "Endless",
    "Wild",
    "Frozen",
    "Secret",
    "Electric",
    "Distant",
    "Fallen",
    "Savage",
)
_TITLE_SECOND = (
    "Horizon",
    "Empire",
    "River",
    "Signal",
    "Kingdom",
    "Shadows",
    "Garden",
    "Protocol",
    "Harbor",
    "Legacy",
    "Frontier",
    "Echoes",
    "Storm",
    "Circuit",
    "Dynasty",
    "Road",
)


@dataclass(frozen=True)
class Catalogue:
    """Movies then series, as the JSON items (dicts in the course key order)."""

    movies: list[dict]
    series: list[dict]

    @property
    def size(self) -> int:
        return len(self.movies) + len(self.series)

    def lengths(self) -> np.ndarray:
        """Minutes one session can watch at most, per title (movies first, then series)."""
        movie = [m["duration_minutes"] for m in self.movies]
        episode = [s["avg_episode_duration"] for s in self.series]
        return np.array(movie + episode, dtype=np.int64)

    def content_ids(self) -> list[str]:
        return [m["content_id"] for m in self.movies] + [s["content_id"] for s in self.series]


def _titles(rng: np.random.Generator, n: int) -> list[str]:
    first = rng.integers(0, len(_TITLE_FIRST), n)
    second = rng.integers(0, len(_TITLE_SECOND), n)
    return [f"The {_TITLE_FIRST[a]} {_TITLE_SECOND[b]}" for a, b in zip(first, second)]


def _genres(rng: np.random.Generator, n: int, most: int) -> list[list[str]]:
    counts = rng.integers(1, most + 1, n)
    return [[d.GENRES[g] for g in rng.choice(len(d.GENRES), k, replace=False)] for k in counts]


def _rating(u: np.ndarray) -> np.ndarray:
    """Uniforms onto the 41 one-decimal ratings 1.0 … 5.0."""
    return (10 + d.scale_uniform(u, 0, 40)) / 10.0


def make_movies(rng: np.random.Generator, ids: list[str]) -> list[dict]:
    """Valid movie items for the given ids, keys in the course order."""
    n = len(ids)
    u_views, u_rating, u_budget = d.correlated_uniforms(
        rng, n, (d.RATING_VIEWS_R, d.BUDGET_VIEWS_R)
    )
    titles = _titles(rng, n)
    genres = _genres(rng, n, 3)
    duration = rng.integers(d.MOVIE_DURATION[0], d.MOVIE_DURATION[1] + 1, n)
    year = rng.integers(d.RELEASE_YEAR[0], d.RELEASE_YEAR[1] + 1, n)
    views = d.scale_uniform(u_views, *d.MOVIE_VIEWS)
    budget = d.scale_uniform(u_budget, *d.MOVIE_BUDGET)
    rating = _rating(u_rating)
    return [
        {
            "content_id": ids[i],
            "title": titles[i],
            "genre": genres[i],
            "duration_minutes": int(duration[i]),
            "release_year": int(year[i]),
            "rating": float(rating[i]),
            "views_count": int(views[i]),
            "production_budget": int(budget[i]),
        }
        for i in range(n)
    ]


def make_series(rng: np.random.Generator, ids: list[str]) -> list[dict]:
    """Valid series items for the given ids, keys in the course order."""
    n = len(ids)
    u_views, u_rating, u_budget = d.correlated_uniforms(
        rng, n, (d.RATING_VIEWS_R, d.BUDGET_VIEWS_R)
    )
    titles = _titles(rng, n)
    genres = _genres(rng, n, 2)
    seasons = rng.integers(d.SERIES_SEASONS[0], d.SERIES_SEASONS[1] + 1, n)
    episodes = [
        [int(e) for e in rng.integers(d.SERIES_EPISODES[0], d.SERIES_EPISODES[1] + 1, k)]
        for k in seasons
    ]
    episode_minutes = rng.integers(
        d.SERIES_EPISODE_DURATION[0], d.SERIES_EPISODE_DURATION[1] + 1, n
    )
    views = d.scale_uniform(u_views, *d.SERIES_VIEWS)
    budget = d.scale_uniform(u_budget, *d.SERIES_BUDGET)
    rating = _rating(u_rating)
    return [
        {
            "content_id": ids[i],
            "title": titles[i],
            "genre": genres[i],
            "seasons": int(seasons[i]),
            "episodes_per_season": episodes[i],
            "avg_episode_duration": int(episode_minutes[i]),
            "rating": float(rating[i]),
            "total_views": int(views[i]),
            "production_budget": int(budget[i]),
        }
        for i in range(n)
    ]


def build_catalogue(rng: np.random.Generator, movies: int, series: int, ids: IdFormat) -> Catalogue:
    """The clean catalogue: movies M1…Mn and series S1…Sn in id order."""
    return Catalogue(
        movies=make_movies(rng, [ids.movie(i) for i in range(1, movies + 1)]),
        series=make_series(rng, [ids.series(i) for i in range(1, series + 1)]),
    )


def render_content(movies: list[dict], series: list[dict]) -> tuple[str, list[int], list[int]]:
    """content.json text (json.dumps, indent 2) and the 1-based line where each item's `{` is.

    Items are objects directly inside the two top-level lists, so each starts on a line that is
    exactly four spaces and `{`; nested values are lists only, never objects.
    """
    text = json.dumps({"movies": movies, "series": series}, indent=2)
    starts = [no for no, line in enumerate(text.split("\n"), start=1) if line == "    {"]
    if len(starts) != len(movies) + len(series):
        raise AssertionError("content.json item lines could not be located")
    return text, starts[: len(movies)], starts[len(movies) :]
