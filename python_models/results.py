"""The one record every analysis produces (a row of analysis.results), and the decision rules.

Decision rules, the same everywhere:
- a hypothesis is "supported" when its p-value, adjusted for the other tests of its family
  (Holm), is below ALPHA; otherwise "not supported";
- the seed's claims additionally need an effect at least as large as the smallest effect of
  interest (MIN_EFFECT), so that a tiny but "significant" difference on 200k sessions does not
  count as a finding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

ALPHA = 0.05
SUPPORTED, NOT_SUPPORTED = "supported", "not supported"

# Smallest effect of interest per effect measure (conventional "small" thresholds).
MIN_EFFECT = {
    "spearman_rho": 0.10,
    "pearson_r": 0.10,
    "hedges_g": 0.20,
    "rank_biserial": 0.10,
    "cramers_v": 0.10,
    "eta_squared": 0.01,
    "epsilon_squared": 0.01,
    "partial_eta_squared": 0.01,
}


@dataclass(frozen=True)
class Result:
    """One test, coefficient, correlation or figure, with everything needed to report it."""

    section: str
    name: str
    variables: str
    statistic_name: str | None = None
    statistic: float | None = None
    p_value: float | None = None
    effect_name: str | None = None
    effect: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    verdict: str | None = None
    interpretation: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    p_adjusted: float | None = None

    def with_(self, **changes: Any) -> Result:
        return replace(self, **changes)


MIN_GROUP_N = 3


def insufficient(section: str, name: str, variables: str, n: int, why: str) -> Result:
    """A result that could not be computed on this data: no statistic, no verdict, and why."""
    return Result(
        section=section,
        name=name,
        variables=variables,
        n=n,
        interpretation=f"Not computed: {why}.",
        details={"not_computed": why},
    )


def verdict_for(p_value: float | None, alpha: float = ALPHA) -> str | None:
    """SUPPORTED when p < alpha, NOT_SUPPORTED otherwise, None when there is no p-value."""
    if p_value is None or not math.isfinite(p_value):
        return None
    return SUPPORTED if p_value < alpha else NOT_SUPPORTED


def holm(p_values: list[float]) -> list[float]:
    """Holm step-down adjusted p-values (family-wise error rate), in the input order."""
    p = np.asarray(p_values, dtype=float)
    m = p.shape[0]
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.maximum.accumulate(stepped)
    out = np.empty(m)
    out[order] = adjusted
    return out.tolist()


def adjust_family(results: list[Result], alpha: float = ALPHA) -> list[Result]:
    """Holm-adjust the p-values of one family of tests and set each verdict from the adjusted p."""
    tested = [
        i for i, r in enumerate(results) if r.p_value is not None and math.isfinite(r.p_value)
    ]
    adjusted = holm([results[i].p_value for i in tested])  # type: ignore[misc]
    out = list(results)
    for i, p_adj in zip(tested, adjusted):
        r = out[i]
        verdict = verdict_for(p_adj, alpha)
        out[i] = r.with_(
            p_adjusted=p_adj,
            verdict=verdict,
            interpretation=f"{r.interpretation} Holm-adjusted {fmt_p(p_adj)}: {verdict} at alpha {alpha}.",
            details={
                **r.details,
                "correction": f"Holm over {len(tested)} tests of section {r.section!r}",
            },
        )
    return out


def unique_names(results: list[Result]) -> list[Result]:
    """The results with repeated names suffixed #2, #3, … (e.g. two loaded batches of one file name)."""
    seen: dict[str, int] = {}
    out = []
    for r in results:
        seen[r.name] = seen.get(r.name, 0) + 1
        out.append(r if seen[r.name] == 1 else r.with_(name=f"{r.name}#{seen[r.name]}"))
    return out


def clean(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, NaN/inf to None, tuples to lists (recursively)."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return [clean(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


def fmt_p(p: float | None) -> str:
    """p-value for a sentence: 'p < 0.001' or 'p = 0.034'."""
    if p is None or not math.isfinite(p):
        return "p = n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
