"""Rows in PostgreSQL's COPY text format: the one place values are escaped for COPY."""

from __future__ import annotations

import re
from collections.abc import Iterable

NULL = "\\N"

# COPY text format gives backslash, newline, carriage return and the delimiter a meaning;
# escaping all four makes any string safe whatever delimiter the caller chose.
_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", ",": "\\,"})


def escape(value: str) -> str:
    """``value`` written so that COPY text format reads it back unchanged."""
    return value.translate(_ESCAPES)


def encode_row(values: Iterable[object], delimiter: str = "\t") -> str:
    """One COPY text line (with its newline); None becomes NULL."""
    return delimiter.join(NULL if v is None else escape(str(v)) for v in values) + "\n"


def unstorable_reason(value: str) -> str | None:
    """Why PostgreSQL cannot store ``value`` as UTF-8 text, or None if it can."""
    if "\x00" in value:
        return "contains a NUL character, which PostgreSQL text cannot hold"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone UTF-16 surrogate, which is not valid UTF-8"
    return None


_UNESCAPE = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t", ",": ","}
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def decode_row(line: str, delimiter: str = "\t") -> list[str | None]:
    """The values of one line :func:`encode_row` wrote (without its newline); NULL is None."""
    return [
        None if field == NULL else _ESCAPED.sub(lambda m: _UNESCAPE[m.group(1)], field)
        for field in line.split(delimiter)
    ]
