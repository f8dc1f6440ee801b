"""The one record every analysis produces (a row of analysis.results), and the decision rules.

Decision rules, the same everywhere (python_models/effect_sizes.py holds them):
- the p-values of a family of tests are Holm-adjusted together (family-wise error rate);
- a row's verdict compares its effect's 95 % CI with the smallest effect of interest (SESOI) of
  its family: "difference" / "association" when the CI lies beyond the SESOI (and the adjusted
  p is below ALPHA), "negligible" when the CI lies inside ±SESOI, "inconclusive" otherwise. A
  tiny but "significant" difference on 200k sessions is negligible, not a finding; a
  non-significant test with a wide CI is inconclusive, not "no effect".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from python_models import effect_sizes

ALPHA = effect_sizes.ALPHA
# A seed claim's verdicts: every part shows the claimed effect / some part is negligible or
# points the other way / the data cannot tell.
SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"


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


def effect_interval(r: Result) -> tuple[str | None, float | None, float | None, float | None]:
    """(family, effect, ci_low, ci_high) a verdict is judged on: the standardised slope of a
    regression row (its raw slope has no scale-free SESOI), the row's own effect otherwise."""
    d = r.details
    if r.effect_name == "share" and d.get("null_share") is not None and r.effect is not None:
        null = d["null_share"]
        low = None if r.ci_low is None else r.ci_low - null
        high = None if r.ci_high is None else r.ci_high - null
        return "share_above_half", r.effect - null, low, high
    if "standardised_ci" in d and d.get("standardised_beta") is not None:
        low, high = d["standardised_ci"]
        return "standardised_beta", d["standardised_beta"], low, high
    return r.effect_name, r.effect, r.ci_low, r.ci_high


def judge(r: Result, p_adjusted: float | None = None, alpha: float = ALPHA) -> Result:
    """The row with its verdict (effect_sizes.verdict of its CI against its family's SESOI)."""
    if r.details.get("definitional"):
        return r.with_(
            verdict=None,
            interpretation=f"{r.interpretation} Related by definition "
            f"({r.details['definitional']}): a property of the data, not a finding; no verdict.",
        )
    family, _, low, high = effect_interval(r)
    verdict = effect_sizes.verdict(family, low, high, p_adjusted, alpha=alpha)
    if verdict is None:
        return r
    sesoi = effect_sizes.SESOI[family]  # type: ignore[index]
    return r.with_(
        verdict=verdict,
        interpretation=f"{r.interpretation} Verdict {verdict}: the 95% CI of the "
        f"{str(family).replace('_', ' ')} against the smallest effect of interest {sesoi:g}.",
        details={**r.details, "sesoi": sesoi, "verdict_family": family},
    )


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
    """Holm-adjust the p-values of one family of tests and set each row's verdict (judge)."""
    tested = [
        i for i, r in enumerate(results) if r.p_value is not None and math.isfinite(r.p_value)
    ]
    adjusted = holm([results[i].p_value for i in tested])  # type: ignore[misc]
    out = list(results)
    for i, p_adj in zip(tested, adjusted):
        r = out[i]
        out[i] = judge(
            r.with_(
                p_adjusted=p_adj,
                interpretation=f"{r.interpretation} Holm-adjusted {fmt_p(p_adj)}.",
                details={
                    **r.details,
                    "correction": f"Holm over {len(tested)} tests of section {r.section!r}",
                },
            ),
            p_adj,
            alpha,
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
