"""Defect items for content.json.

A rejected title would orphan its sessions, so every defect is an EXTRA item that no session
refers to: a fresh id, or (duplicate_id) the id of an existing item of the same section placed
after it. Apart from its one defect each extra item is a valid movie or series.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamlytics.generate.catalogue import Catalogue, make_movies, make_series, render_content
from streamlytics.generate.defects import Defect
from streamlytics.generate.scaling import IdFormat

FILE = "content.json"
OVERFLOW = 99_999_999_999_999_999_999  # beyond a signed 64-bit integer
OUT_OF_RANGE_RATINGS = (0.0, 0.5, 5.5, 7.2, 9.9, -1.0)


@dataclass
class _Extra:
    kind: str
    section: str
    item: dict
    field: str | None
    value: str | None
    after: dict | None = None  # the original, for duplicate_id


def plan_sections(rng: np.random.Generator, counts: dict[str, int]) -> list[tuple[str, str]]:
    """(kind, section) per content defect, in a fixed order."""
    plan = []
    for kind, count in counts.items():
        for _ in range(count):
            section = (
                "series"
                if kind == "episodes_mismatch"
                else ("movies", "series")[int(rng.integers(0, 2))]
            )
            plan.append((kind, section))
    return plan


def _text(value: Any) -> str:
    """A JSON value as the manifest reports it: a string as itself, anything else as JSON text."""
    return value if isinstance(value, str) else json.dumps(value)


def _corrupt(
    rng: np.random.Generator, kind: str, section: str, item: dict, first_wrong_type: bool
) -> tuple[str | None, str | None]:
    movie = section == "movies"
    views = "views_count" if movie else "total_views"
    if kind == "bad_number":
        field = (views, "production_budget")[int(rng.integers(0, 2))]
        item[field] = OVERFLOW
    elif kind == "empty_required":
        field = "title"
        item[field] = ""
    elif kind == "json_missing_key":
        keys = [k for k in item if k != "content_id"]
        field = keys[int(rng.integers(0, len(keys)))]
        del item[field]
        return field, None
    elif kind == "json_wrong_type":
        # The first one is always the classic: genre as a plain string instead of a list.
        variant = 0 if first_wrong_type else int(rng.integers(0, 3))
        field = ("genre", "rating", views)[variant]
        item[field] = item["genre"][0] if variant == 0 else str(item[field])
    elif kind == "out_of_range":
        field = "rating"
        item[field] = OUT_OF_RANGE_RATINGS[int(rng.integers(0, len(OUT_OF_RANGE_RATINGS)))]
    elif kind == "episodes_mismatch":
        field = "episodes_per_season"
        seasons = item["seasons"]
        wrong = seasons + 1 if seasons == 1 or (seasons < 8 and rng.integers(0, 2)) else seasons - 1
        item[field] = [int(e) for e in rng.integers(6, 25, wrong)]
    else:
        raise ValueError(f"not a content defect: {kind}")
    return field, _text(item[field])


def inject_content_defects(
    rng: np.random.Generator, catalogue: Catalogue, plan: list[tuple[str, str]], ids: IdFormat
) -> tuple[str, list[Defect]]:
    """content.json text with the planned extra items inserted, and their manifest entries."""
    movies, series = list(catalogue.movies), list(catalogue.series)
    lists = {"movies": movies, "series": series}
    fresh = {"movies": len(movies), "series": len(series)}
    extras: list[_Extra] = []
    first_wrong_type = True
    for kind, section in plan:
        make = make_movies if section == "movies" else make_series
        if kind == "duplicate_id":
            originals = catalogue.movies if section == "movies" else catalogue.series
            original = originals[int(rng.integers(0, len(originals)))]
            item = make(rng, [original["content_id"]])[0]
            extras.append(
                _Extra(kind, section, item, "content_id", _text(item["content_id"]), after=original)
            )
            continue
        fresh[section] += 1
        number = fresh[section]
        item = make(rng, [ids.movie(number) if section == "movies" else ids.series(number)])[0]
        field, value = _corrupt(
            rng, kind, section, item, first_wrong_type and kind == "json_wrong_type"
        )
        first_wrong_type = first_wrong_type and kind != "json_wrong_type"
        extras.append(_Extra(kind, section, item, field, value))

    for extra in extras:
        target = lists[extra.section]
        low = 0
        if extra.after is not None:
            low = next(i for i, it in enumerate(target) if it is extra.after) + 1
        target.insert(int(rng.integers(low, len(target) + 1)), extra.item)

    text, movie_lines, series_lines = render_content(movies, series)
    lines = {"movies": movie_lines, "series": series_lines}
    defects = []
    for extra in extras:
        index = next(i for i, it in enumerate(lists[extra.section]) if it is extra.item)
        defects.append(
            Defect(
                FILE,
                lines[extra.section][index],
                extra.kind,
                extra.field,
                extra.value,
                index,
                extra.section,
            )
        )
    return text, defects


def fresh_counts(plan: list[tuple[str, str]]) -> dict[str, int]:
    """New ids each section needs (duplicates reuse ids)."""
    out = {"movies": 0, "series": 0}
    for kind, section in plan:
        if kind != "duplicate_id":
            out[section] += 1
    return out
