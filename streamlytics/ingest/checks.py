"""Preflight: prove every input file is loadable before anything is written.

For each file: present, readable, UTF-8 without NUL bytes, the header exactly as the data
contract says (CSV) or the ``{"movies": [...], "series": [...]}`` shape (content.json). A leading
UTF-8 byte-order mark (what Excel writes when it saves "CSV UTF-8") is accepted, as Python's
``utf-8-sig``, pandas and DuckDB accept it: it is skipped, positions in messages are counted
after it, and the ledger notes it. The same pass computes the batch id (sha256 of the bytes) and counts
the records, so the loader can later prove it read every one of them.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from streamlytics.ingest.content import scan_document
from streamlytics.ingest.errors import PreflightError, Problem
from streamlytics.ingest.formats import (
    CONTENT_FILE,
    CSV_LAYOUTS,
    INT4_MAX,
    SESSIONS_PREFIX,
    USERS_FILE,
    CsvLayout,
    FileKind,
)

CHUNK_BYTES = 1024 * 1024
_BOM = codecs.BOM_UTF8
BOM_NOTE = "starts with a UTF-8 byte-order mark, which was skipped"
_HEADER_LIMIT = 64 * 1024
# Where nesting is reported as too deep after json.loads hit the recursion limit. The contract's
# deepest value is a few levels down, so any position past this is the culprit.
_MAX_JSON_NESTING = 500
# A JSON string (skipped whole, so digits and brackets inside strings never count) or a bracket.
_JSON_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


@dataclass(frozen=True)
class SourceFile:
    """A checked input file: what the loader needs to load it as one batch."""

    path: Path
    kind: FileKind
    batch_id: str
    """sha256 hex digest of the file's bytes."""
    size: int
    records: int
    """Data records: CSV lines after the header, or content.json items (movies + series)."""
    signature: tuple[int, int, int]
    """(size, mtime in ns, inode) when checked: the loader refuses a file whose stat differs."""
    byte_order_mark: bool = False
    """The file starts with a UTF-8 byte-order mark, which the loader skips."""

    @property
    def name(self) -> str:
        return self.path.name


def find_sources(data_dir: Path) -> tuple[list[tuple[Path, FileKind]], list[Problem]]:
    """The files to load, in load order (users, content, then sessions files by name)."""
    if not data_dir.is_dir():
        return [], [Problem(str(data_dir), None, None, "is not a directory")]
    found: list[tuple[Path, FileKind]] = []
    problems: list[Problem] = []
    for name, kind in ((USERS_FILE, "users"), (CONTENT_FILE, "content")):
        path = data_dir / name
        if path.exists():
            found.append((path, kind))
        else:
            problems.append(Problem(name, None, None, f"is missing from {data_dir}"))
    sessions = sorted(p for p in data_dir.glob(f"{SESSIONS_PREFIX}*.csv") if p.is_file())
    if not sessions:
        problems.append(
            Problem(
                f"{SESSIONS_PREFIX}.csv",
                None,
                None,
                f"is missing from {data_dir} (no {SESSIONS_PREFIX}*.csv file)",
            )
        )
    found.extend((p, "viewing_sessions") for p in sessions)
    return found, problems


def preflight(data_dir: Path) -> list[SourceFile]:
    """Check every input file; return them in load order or raise PreflightError listing all problems."""
    found, problems = find_sources(Path(data_dir))
    sources = []
    for path, kind in found:
        source, file_problems = check_file(path, kind)
        problems.extend(file_problems)
        if source is not None:
            sources.append(source)
    if problems:
        raise PreflightError(problems)
    return sources


def check_file(path: Path, kind: FileKind) -> tuple[SourceFile | None, list[Problem]]:
    """Check one file of a known kind: (SourceFile, []) if loadable, else (None, problems)."""
    try:
        if kind == "content":
            return check_content(path)
        return check_csv(path, CSV_LAYOUTS[kind])
    except OSError as exc:
        return None, [Problem(path.name, None, None, f"cannot be read: {exc.strerror or exc}")]


def file_signature(stat: os.stat_result) -> tuple[int, int, int]:
    return (stat.st_size, stat.st_mtime_ns, stat.st_ino)


def _position(
    newlines_before: int, last_newline_end: int, chunk: bytes, offset: int, rel: int
) -> tuple[int, int]:
    """1-based (line, byte column) of byte ``rel`` of ``chunk``, which starts at file ``offset``."""
    rel = max(rel, 0)
    line = newlines_before + chunk.count(b"\n", 0, rel) + 1
    nl = chunk.rfind(b"\n", 0, rel)
    line_start = offset + nl + 1 if nl >= 0 else last_newline_end
    return line, offset + rel - line_start + 1


def check_csv(path: Path, layout: CsvLayout) -> tuple[SourceFile | None, list[Problem]]:
    """Stream a CSV once: hash, UTF-8 / NUL check, header check, line count."""
    name = path.name
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    newlines = 0
    last_newline_end = 0  # file offset just after the last LF seen
    offset = 0
    head = b""
    last_byte = b""
    with path.open("rb") as f:
        signature = file_signature(os.fstat(f.fileno()))
        bom = 0  # bytes of a leading byte-order mark; offsets below count from after it
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
            if offset == 0 and not bom and chunk.startswith(_BOM):
                bom = len(_BOM)
                chunk = chunk[bom:]
                if not chunk:
                    continue
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                rel = exc.start - pending
                line, column = _position(newlines, last_newline_end, chunk, offset, rel)
                bad = chunk[max(rel, 0)]
                return None, [
                    Problem(
                        name,
                        line,
                        column,
                        f"is not valid UTF-8 (byte 0x{bad:02x}); re-export the file as UTF-8",
                    )
                ]
            nul = chunk.find(b"\x00")
            if nul >= 0:
                line, column = _position(newlines, last_newline_end, chunk, offset, nul)
                return None, [
                    Problem(name, line, column, "contains a NUL byte; this is not a text file")
                ]
            if len(head) < _HEADER_LIMIT and b"\n" not in head:
                head += chunk[:_HEADER_LIMIT]
            chunk_newlines = chunk.count(b"\n")
            if chunk_newlines:
                newlines += chunk_newlines
                last_newline_end = offset + chunk.rfind(b"\n") + 1
            offset += len(chunk)
            last_byte = chunk[-1:]
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None, [
            Problem(
                name,
                newlines + 1,
                offset - last_newline_end,
                "ends inside a multi-byte UTF-8 character (truncated file?)",
            )
        ]
    if offset == 0:
        what = "has only a byte-order mark" if bom else "is empty"
        return None, [Problem(name, 1, None, f"{what}; expected the header line: {layout.header}")]
    header_problem = _header_problem(name, head, layout)
    if header_problem is not None:
        return None, [header_problem]
    if signature != file_signature(path.stat()) or bom + offset != signature[0]:
        return None, [
            Problem(
                name,
                None,
                None,
                "changed while it was being checked (is it still being "
                "written?); run the ingest again once it is complete",
            )
        ]
    lines = newlines + (0 if last_byte == b"\n" else 1)
    if lines > INT4_MAX:  # landing rows store the line number in 4 bytes
        return None, [
            Problem(
                name,
                None,
                None,
                f"has {lines:,} lines, more than the {INT4_MAX:,} "
                "one file may have; split it into several viewing_sessions*.csv files",
            )
        ]
    source = SourceFile(
        path, layout.kind, digest.hexdigest(), bom + offset, lines - 1, signature, bool(bom)
    )
    return source, []


def _header_problem(name: str, head: bytes, layout: CsvLayout) -> Problem | None:
    header = head.split(b"\n", 1)[0].decode("utf-8", errors="replace").removesuffix("\r")
    if header == layout.header:
        return None
    found = header.split(",")
    expected = list(layout.column_names)
    column = (
        next(
            (i for i, (a, b) in enumerate(zip(header, layout.header)) if a != b),
            min(len(header), len(layout.header)),
        )
        + 1
    )
    if sorted(found) == sorted(expected):
        detail = "has the right columns in the wrong order"
    else:
        missing = [c for c in expected if c not in found]
        extra = [c for c in found if c not in expected]
        detail = (
            "; ".join(
                filter(
                    None,
                    [
                        f"missing column(s) {', '.join(missing)}" if missing else "",
                        f"unexpected column(s) {', '.join(repr(c) for c in extra)}"
                        if extra
                        else "",
                    ],
                )
            )
            or "differs"
        )
    return Problem(
        name, 1, column, f"header {detail}: found {header[:300]!r}, expected {layout.header!r}"
    )


def check_content(path: Path) -> tuple[SourceFile | None, list[Problem]]:
    """Read content.json (a small catalogue): hash, UTF-8, JSON syntax, top-level shape."""
    name = path.name
    signature = file_signature(path.stat())
    data = path.read_bytes()
    body = strip_bom(data)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _position(0, 0, body, 0, exc.start)
        return None, [
            Problem(
                name,
                line,
                column,
                f"is not valid UTF-8 (byte 0x{body[exc.start]:02x}); re-export the file as UTF-8",
            )
        ]
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [Problem(name, exc.lineno, exc.colno, f"is not valid JSON: {exc.msg}")]
    except RecursionError:
        return None, [_too_deep(name, text)]
    except ValueError as exc:  # e.g. an integer literal longer than Python converts
        return None, [
            _too_long_number(name, text)
            or Problem(name, None, None, f"cannot be read as JSON: {exc}")
        ]
    doc = scan_document(text)
    if doc.problems:
        return None, [Problem(name, p.line, p.column, p.message) for p in doc.problems]
    batch_id = hashlib.sha256(data).hexdigest()
    source = SourceFile(
        path, "content", batch_id, len(data), len(doc.items), signature, body is not data
    )
    return source, []


def strip_bom(data: bytes) -> bytes:
    """``data`` without a leading UTF-8 byte-order mark (the same object when there is none)."""
    return data.removeprefix(_BOM)


def _text_position(text: str, index: int) -> tuple[int, int]:
    """1-based (line, character column) of ``text[index]``, counted like json's error positions."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def _too_long_number(name: str, text: str) -> Problem | None:
    """Where an integer has more digits than Python converts (json.loads raised ValueError)."""
    limit = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0
    if not limit:
        return None
    # Strings are matched whole so a long digit run inside a string value is not blamed.
    pattern = re.compile(r'"(?:[^"\\]|\\.)*"|(\d{' + str(limit + 1) + ",})")
    for match in pattern.finditer(text):
        if match.group(1):
            line, column = _text_position(text, match.start(1))
            return Problem(
                name,
                line,
                column,
                f"is not valid JSON here: a number with {len(match.group(1))} digits is too long "
                f"(at most {limit} digits can be read)",
            )
    return None


def _too_deep(name: str, text: str) -> Problem:
    """Where nesting gets too deep for json.loads (it raised RecursionError): one linear scan."""
    depth = deepest = deepest_at = 0
    for match in _JSON_BRACKETS.finditer(text):
        char = match.group()
        if char in "[{":
            depth += 1
            if depth > deepest:
                deepest, deepest_at = depth, match.start()
            if depth > _MAX_JSON_NESTING:
                break
        elif char in "]}":
            depth -= 1
    line, column = _text_position(text, deepest_at)
    if deepest > _MAX_JSON_NESTING:
        what = f"is nested more than {_MAX_JSON_NESTING} levels deep"
    else:  # the interpreter's stack was shallower than usual: name the deepest point instead
        what = f"is nested {deepest} levels deep, too deep to read"
    return Problem(
        name, line, column, f"{what} (content.json values are a few levels deep at most)"
    )
