"""content.json: locate every item with its line, validate it, flatten it into landing rows.

The file is a catalogue of a few hundred items, so it is read whole; what matters here is that
every item keeps the line where its ``{`` starts, so a quarantined item can be found in the file.
``json.loads`` first proves the syntax (giving line and column on error); a small walker over
the top level then records each item's span with ``JSONDecoder.raw_decode``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from streamlytics.ingest.copy_text import unstorable_reason
from streamlytics.ingest.formats import CONTENT_SECTIONS, INT4_MAX, INT8_MAX, ItemType

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class ContentItem:
    """One element of the ``movies`` or ``series`` list, as found in the file."""

    section: str
    index: int
    """0-based position within its section's list."""
    line: int
    """1-based line where the item starts."""
    raw_text: str
    value: Any


@dataclass(frozen=True)
class ShapeProblem:
    line: int
    column: int
    message: str


@dataclass
class ContentDocument:
    items: list[ContentItem] = field(default_factory=list)
    problems: list[ShapeProblem] = field(default_factory=list)


@dataclass(frozen=True)
class Violation:
    """Why one item cannot land: a reason code from the quarantine contract and a detail."""

    reason: str
    field: str | None
    value: str | None
    detail: str


class _Lines:
    """Maps string offsets to 1-based (line, column), for offsets visited in increasing order."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0
        self._line = 1
        self._line_start = 0

    def at(self, pos: int) -> tuple[int, int]:
        if pos < self._pos:  # rare backwards step: restart the scan
            self._pos, self._line, self._line_start = 0, 1, 0
        newlines = self._text.count("\n", self._pos, pos)
        if newlines:
            self._line += newlines
            self._line_start = self._text.rfind("\n", 0, pos) + 1
        self._pos = pos
        return self._line, pos - self._line_start + 1


def _skip(text: str, pos: int) -> int:
    return _WHITESPACE.match(text, pos).end()  # type: ignore[union-attr]


def scan_document(text: str) -> ContentDocument:
    """Items of a syntactically valid content.json, plus any problems with its overall shape.

    The expected shape is ``{"movies": [...], "series": [...]}``: both keys present, once each,
    each a list, and no other top-level keys (a new section must not be dropped silently).
    """
    doc = ContentDocument()
    lines = _Lines(text)

    def problem(pos: int, message: str) -> None:
        line, column = lines.at(pos)
        doc.problems.append(ShapeProblem(line, column, message))

    pos = _skip(text, 0)
    if not text.startswith("{", pos):
        problem(pos, 'the top level must be an object {"movies": [...], "series": [...]}')
        return doc
    seen: set[str] = set()
    pos = _skip(text, pos + 1)
    while not text.startswith("}", pos):
        key_pos = pos
        key, pos = _DECODER.raw_decode(text, pos)
        pos = _skip(text, _skip(text, pos) + 1)  # past the ':'
        value_pos = pos
        if key in CONTENT_SECTIONS and key in seen:
            problem(key_pos, f'key "{key}" appears twice at the top level')
        if key in CONTENT_SECTIONS and text.startswith("[", pos):
            pos = _scan_list(text, pos, key, doc, lines)
        else:
            value, pos = _DECODER.raw_decode(text, pos)
            if key in CONTENT_SECTIONS:
                problem(value_pos, f'"{key}" must be a list of items, found {_json_type(value)}')
            else:
                problem(
                    key_pos,
                    f'unexpected top-level key "{key}" (expected only "movies" and "series")',
                )
        seen.add(key)
        pos = _skip(text, pos)
        if text.startswith(",", pos):
            pos = _skip(text, pos + 1)
    for key in CONTENT_SECTIONS:
        if key not in seen:
            problem(
                0,
                f'top-level key "{key}" is missing (expected {{"movies": [...], "series": [...]}})',
            )
    return doc


def _scan_list(text: str, pos: int, section: str, doc: ContentDocument, lines: _Lines) -> int:
    pos = _skip(text, pos + 1)
    index = 0
    while not text.startswith("]", pos):
        start = pos
        value, end = _DECODER.raw_decode(text, pos)
        line, _ = lines.at(start)
        doc.items.append(ContentItem(section, index, line, text[start:end], value))
        index += 1
        pos = _skip(text, end)
        if text.startswith(",", pos):
            pos = _skip(text, pos + 1)
    return pos + 1


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 200 else text[:197] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(key: str, value: Any, limit: int, what: str) -> Violation | None:
    if not _is_int(value):
        return Violation(
            "json_wrong_type", key, _shown(value), f"must be an integer, found {_json_type(value)}"
        )
    if not -limit - 1 <= value <= limit:
        return Violation("bad_number", key, _shown(value), f"does not fit a {what} integer")
    return None


def _check_value(key: str, kind: ItemType, value: Any) -> Violation | None:
    if value is None:
        return Violation("empty_required", key, "null", "is required but null")
    if kind == "text":
        if not isinstance(value, str):
            return Violation(
                "json_wrong_type",
                key,
                _shown(value),
                f"must be a string, found {_json_type(value)}",
            )
        if not value.strip():
            return Violation("empty_required", key, _shown(value), "is required but empty")
        reason = unstorable_reason(value)
        return Violation("json_malformed_item", key, _shown(value), reason) if reason else None
    if kind == "int4":
        return _check_int(key, value, INT4_MAX, "32-bit")
    if kind == "int8":
        return _check_int(key, value, INT8_MAX, "64-bit")
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return Violation(
                "json_wrong_type",
                key,
                _shown(value),
                f"must be a number, found {_json_type(value)}",
            )
        if isinstance(value, float) and not math.isfinite(value):
            return Violation("bad_number", key, _shown(value), "is not a finite number")
        return None
    if kind == "genres":
        if not isinstance(value, list):
            return Violation(
                "json_wrong_type",
                key,
                _shown(value),
                f"must be a list of strings, found {_json_type(value)}",
            )
        if not value:
            return Violation("empty_required", key, "[]", "is required but the list is empty")
        for element in value:
            problem = _check_value(key, "text", element)
            if problem is not None:
                return Violation(
                    problem.reason,
                    key,
                    _shown(value),
                    f"element {_shown(element)} {problem.detail}",
                )
        return None
    # int4_list: a list of integers. Its length is not checked here: a count that disagrees
    # with "seasons" is a cross-field rule that dbt staging flags (episodes_mismatch).
    if not isinstance(value, list):
        return Violation(
            "json_wrong_type",
            key,
            _shown(value),
            f"must be a list of integers, found {_json_type(value)}",
        )
    for element in value:
        problem = _check_int(key, element, INT4_MAX, "32-bit")
        if problem is not None:
            return Violation(
                problem.reason, key, _shown(value), f"element {_shown(element)} {problem.detail}"
            )
    return None


def validate_item(item: ContentItem) -> list[Violation]:
    """Every reason the item cannot land, in key order (empty if it can)."""
    if not isinstance(item.value, dict):
        return [
            Violation(
                "json_malformed_item",
                None,
                None,
                f"each {item.section} item must be an object, found {_json_type(item.value)}",
            )
        ]
    violations = []
    for key, kind in CONTENT_SECTIONS[item.section]:
        if key not in item.value:
            violations.append(Violation("json_missing_key", key, None, "is missing"))
            continue
        problem = _check_value(key, kind, item.value[key])
        if problem is not None:
            violations.append(problem)
    return violations


@dataclass
class FlatContent:
    """Landing rows of the valid items (without the lineage columns the loader appends)."""

    movies: list[tuple[Any, ...]] = field(default_factory=list)
    series: list[tuple[Any, ...]] = field(default_factory=list)
    genres: list[tuple[Any, ...]] = field(default_factory=list)
    seasons: list[tuple[Any, ...]] = field(default_factory=list)


def flatten(item: ContentItem, into: FlatContent) -> None:
    """Append the rows of one valid item (see :func:`validate_item`) to ``into``.

    Each row ends with the item's index and line; the loader appends its batch key.
    """
    v = item.value
    lineage = (item.index, item.line)
    if item.section == "movies":
        into.movies.append(
            (
                v["content_id"],
                v["title"],
                v["duration_minutes"],
                v["release_year"],
                v["rating"],
                v["views_count"],
                v["production_budget"],
                *lineage,
            )
        )
        content_type = "movie"
    else:
        into.series.append(
            (
                v["content_id"],
                v["title"],
                v["seasons"],
                v["avg_episode_duration"],
                v["rating"],
                v["total_views"],
                v["production_budget"],
                *lineage,
            )
        )
        for number, episodes in enumerate(v["episodes_per_season"], start=1):
            into.seasons.append((v["content_id"], number, episodes, *lineage))
        content_type = "series"
    for position, genre in enumerate(v["genre"], start=1):
        into.genres.append((v["content_id"], content_type, genre, position, *lineage))
