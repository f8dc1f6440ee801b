"""Fast CSV text: columns encoded as byte matrices, rows joined without a Python loop.

Every column becomes a (rows × width) uint8 matrix whose unused cells are NUL; the matrices are
laid side by side with separators and the NULs squeezed out. NUL never occurs in the data, so
the result is exactly the concatenated lines. This is what makes ≥ 1 M rows/s possible.
Lines that carry a defect are written as text by the caller and spliced in (:func:`splice`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_ZERO = ord("0")
_COMMA = np.frombuffer(b",", dtype=np.uint8).reshape(1, 1)
_NEWLINE = np.frombuffer(b"\n", dtype=np.uint8).reshape(1, 1)


def text_table(values: Sequence[str]) -> np.ndarray:
    """A (len(values) × longest) NUL-padded byte matrix for lookup by index."""
    encoded = [v.encode("ascii") for v in values]
    width = max(1, max(len(v) for v in encoded))
    return np.frombuffer(b"".join(v.ljust(width, b"\0") for v in encoded), dtype=np.uint8).reshape(
        len(encoded), width
    )


def constant(text: str, n: int) -> np.ndarray:
    return np.broadcast_to(np.frombuffer(text.encode("ascii"), dtype=np.uint8), (n, len(text)))


def digits(values: np.ndarray, width: int, pad: bool) -> np.ndarray:
    """Non-negative integers as `width` ASCII digits: zero-padded, or left-blank (NUL) if not pad."""
    rest = np.array(values, dtype=np.int64)
    columns = np.empty((width, rest.shape[0]), dtype=np.uint8)
    # One scalar divide per digit: numpy divides by a constant far faster than by a broadcast
    # vector of powers of ten. Digits are built column-major, then viewed row-major.
    for column in range(width - 1, -1, -1):
        columns[column] = rest % 10
        rest //= 10
    columns += _ZERO
    if not pad and width > 1:
        # Leading zeros vanish, but a value's last digit always stays (0 prints as "0").
        values = np.asarray(values)
        for column in range(width - 1):
            columns[column][values < 10 ** (width - 1 - column)] = 0
    return columns.T


def tenths(values: np.ndarray, int_width: int) -> list[np.ndarray]:
    """Non-negative tenths as a one-decimal number, e.g. 875 -> "87.5", 1000 -> "100.0"."""
    values = np.asarray(values, dtype=np.int64)
    return [
        digits(values // 10, int_width, pad=False),
        constant(".", values.shape[0]),
        digits(values % 10, 1, True),
    ]


Field = np.ndarray | Sequence[np.ndarray]
"""One CSV field: a byte matrix, or several written back to back (e.g. prefix + digits)."""


def join_rows(fields: Sequence[Field]) -> tuple[np.ndarray, np.ndarray]:
    """Comma-separated lines ending in LF: (bytes as uint8, end offset of each line)."""
    parts: list[np.ndarray] = []
    for i, field in enumerate(fields):
        if i:
            parts.append(_COMMA)
        parts.extend([field] if isinstance(field, np.ndarray) else field)
    parts.append(_NEWLINE)
    n = parts[0].shape[0]
    matrix = np.empty((n, sum(p.shape[1] for p in parts)), dtype=np.uint8)
    position = 0
    for part in parts:  # one copy per part into the row-major line matrix
        matrix[:, position : position + part.shape[1]] = part
        position += part.shape[1]
    keep = matrix != 0
    ends = np.cumsum(keep.sum(axis=1))
    return matrix[keep], ends


@dataclass(frozen=True)
class Edit:
    """A defect line: replace clean row `row`, or insert a new line after it (`after=True`)."""

    row: int
    text: str
    after: bool = False


def splice(
    clean: np.ndarray, ends: np.ndarray, edits: Sequence[Edit], first_line: int
) -> tuple[bytes, list[int]]:
    """The block's bytes with edits applied, and the physical line number of each edit (in order).

    `first_line` is the physical line of clean row 0. Insertions after the same row keep their
    given order; a row can be replaced at most once.
    """
    order = sorted(range(len(edits)), key=lambda i: (edits[i].row, edits[i].after, i))
    lines = [0] * len(edits)
    pieces: list[bytes] = []
    position = 0
    inserted = 0
    for i in order:
        edit = edits[i]
        start = int(ends[edit.row - 1]) if edit.row > 0 else 0
        end = int(ends[edit.row])
        if edit.after:
            pieces.append(clean[position:end].tobytes())
            position = end
            inserted += 1
            lines[i] = first_line + edit.row + inserted
        else:
            if start < position:
                raise ValueError(f"row {edit.row} edited twice")
            pieces.append(clean[position:start].tobytes())
            position = end
            lines[i] = first_line + edit.row + inserted
        pieces.append(edit.text.encode("ascii") + b"\n")
    pieces.append(clean[position:].tobytes())
    return b"".join(pieces), lines
