"""Tables for the page: values formatted once, here, so the template only lays them out."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd

from python_models.report.findings import fmt_p_value


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    caption: str = ""
    note: str = ""
    classes: list[list[str]] = field(default_factory=list)
    """Optional CSS class per cell (e.g. a verdict badge)."""


def cell(value: Any, digits: int | None = None) -> str:
    """A value as text: integers with separators, floats by magnitude (or fixed digits), dates ISO."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, int) or (
        hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in "iu"
    ):
        return f"{int(value):,}"
    if isinstance(value, float) or (
        hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "f"
    ):
        v = float(value)
        if not math.isfinite(v):
            return "–"
        if digits is not None:
            return f"{v:,.{digits}f}"
        a = abs(v)
        if a >= 1000:
            return f"{v:,.0f}"
        if a >= 100:
            return f"{v:,.1f}"
        if a >= 1 or a == 0:
            return f"{v:,.2f}"
        return f"{v:.3f}" if a >= 0.001 else f"{v:.2e}"
    if isinstance(value, pd.Timestamp):
        return (
            value.date().isoformat()
            if value == value.normalize()
            else value.isoformat(sep=" ", timespec="seconds")
        )
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def _is_number(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def from_frame(
    frame: pd.DataFrame,
    columns: Mapping[str, str] | None = None,
    caption: str = "",
    note: str = "",
    digits: Mapping[str, int] | None = None,
    limit: int | None = None,
) -> Table:
    """A frame as a table; ``columns`` picks and renames ({source: header}); rows beyond ``limit`` cut."""
    columns = dict(columns or {c: c for c in frame.columns})
    digits = dict(digits or {})
    shown = frame if limit is None else frame.head(limit)
    if limit is not None and frame.shape[0] > limit:
        note = (note + " " if note else "") + f"First {limit:,} of {frame.shape[0]:,} rows."
    # itertuples keeps each column's type (iterrows would turn a row of ints and floats into floats).
    picked = shown.reindex(columns=list(columns))
    rows = [
        [cell(v, digits.get(c)) for c, v in zip(columns, r)]
        for r in picked.itertuples(index=False, name=None)
    ]
    numeric = [c in frame.columns and _is_number(frame[c]) for c in columns]
    return Table(list(columns.values()), rows, numeric, caption, note)


def from_records(
    records: Sequence[Mapping[str, Any]], caption: str = "", limit: int | None = None
) -> Table:
    """Dict rows (e.g. a MongoDB pipeline's output) as a table: text columns (the keys) first,
    then the figures, each group in first-seen order."""
    columns: list[str] = []
    for r in records:
        columns += [k for k in r if k not in columns and k != "_id"]
    text = [
        c for c in columns if all(isinstance(r.get(c), str) or r.get(c) is None for r in records)
    ]
    columns = text + [c for c in columns if c not in text]
    frame = pd.DataFrame(list(records), columns=columns)
    return from_frame(frame, caption=caption, limit=limit)


def p_cell(value: Any) -> str:
    text = fmt_p_value(value)
    return text.removeprefix("= ")


def effect_digits(value: float) -> int | None:
    """Decimals for an effect and its CI: fixed for small effects, by magnitude (None) for large ones."""
    a = abs(value)
    return 4 if a < 0.01 else 3 if a < 10 else None


def effect_cell(row: Mapping[str, Any]) -> str:
    effect = row.get("effect")
    if effect is None or (isinstance(effect, float) and math.isnan(effect)):
        return "–"
    digits = effect_digits(float(effect))
    text = f"{str(row.get('effect_name') or '').replace('_', ' ')} {cell(float(effect), digits)}".strip()
    low, high = row.get("ci_low"), row.get("ci_high")
    if (
        low is not None
        and high is not None
        and not (math.isnan(float(low)) or math.isnan(float(high)))
    ):
        text += f" [{cell(float(low), digits)}, {cell(float(high), digits)}]"
    return text


def statistic_cell(row: Mapping[str, Any]) -> str:
    stat = row.get("statistic")
    if stat is None or (isinstance(stat, float) and math.isnan(stat)):
        return "–"
    return f"{str(row.get('statistic_name') or '').replace('_', ' ')} = {cell(float(stat))}".strip()


def verdict_class(verdict: Any) -> str:
    return {
        "supported": "ok",
        "not supported": "no",
        "difference": "ok",
        "association": "ok",
        "negligible": "no",
        "inconclusive": "",
        "reconciled": "ok",
        "not reconciled": "no",
        "all passed": "ok",
        "not all passed": "no",
    }.get(str(verdict), "")


def results_table(
    rows: Iterable[Mapping[str, Any]],
    subjects: Mapping[str, str],
    caption: str = "",
    with_test: bool = True,
) -> Table:
    """Result rows as the hypothesis-test table: statistic, p, Holm p, effect [CI], n, verdict, reading."""
    header = [
        "Question",
        "Test",
        "Statistic",
        "p",
        "Holm p",
        "Effect [95% CI]",
        "n",
        "Verdict",
        "Interpretation",
    ]
    if not with_test:
        header.remove("Test")
    out, classes = [], []
    for r in rows:
        details = r.get("details") or {}
        p_adj = r.get(
            "p_adjusted", details.get("p_adjusted") if isinstance(details, Mapping) else None
        )
        line = [
            subjects.get(str(r.get("name")), str(r.get("variables") or r.get("name"))),
            str(details.get("test", "–")) if isinstance(details, Mapping) else "–",
            statistic_cell(r),
            p_cell(r.get("p_value")),
            p_cell(p_adj),
            effect_cell(r),
            cell(r.get("n")),
            str(r.get("verdict") or "–"),
            str(r.get("interpretation") or ""),
        ]
        if not with_test:
            del line[1]
        out.append(line)
        classes.append(["" for _ in line[:-2]] + [verdict_class(r.get("verdict")), "text"])
    numeric = [h in ("Statistic", "p", "Holm p", "n") for h in header]
    return Table(header, out, numeric, caption, classes=classes)
