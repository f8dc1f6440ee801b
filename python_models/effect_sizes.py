"""The smallest effect of interest (SESOI) of every effect family, and the verdict words it gives.

One place decides what a result may be called, for every test, correlation, regression slope and
seed claim of a run. A p-value says only whether an effect is distinguishable from zero; with
10⁵–10⁷ sessions nearly everything is. So a verdict compares the effect's 95 % confidence
interval with the region of effects too small to matter, [−SESOI, +SESOI] (or [0, SESOI] for an
effect that cannot be negative, such as ε² or Cramér's V):

- ``difference`` (group comparisons) / ``association`` (correlations, tables, slopes): the whole
  CI lies beyond the SESOI (and the Holm-adjusted p-value, when there is one, is below ALPHA,
  so the family-wise error rate stays controlled) — an effect at least as large as the smallest
  one of interest;
- ``negligible``: the whole CI lies inside ±SESOI — an equivalence test by interval inclusion
  (the 95 % CI inside the bounds is a TOST at α = 0.025 each side, stricter than the usual 90 %
  CI), so "no effect worth naming" is a finding, not a failure to find;
- ``inconclusive``: anything else — the data cannot tell an effect of interest from none (too
  few users, too wide an interval). "Not significant" is never read as "no effect".

Why each SESOI (all on the "small" boundary of Cohen 1988 and its usual translations, chosen so
that families line up on one correlation-like scale, see ``magnitude``):

- r, ρ, rank-biserial, Cramér's V, standardised regression slope: 0.10 — Cohen's "small"
  correlation; a rank-biserial of 0.10 means P(a > b) − P(a < b) = 10 points, a 55/45 split;
- Hedges g: 0.20 — Cohen's "small" d; it converts to r ≈ 0.10 (r = g / √(g² + 4));
- ε², η², partial η²: 0.01 — Cohen's "small" η², the share of variance of an r of 0.10;
- AUC of a classifier over its baseline: 0.02 — two AUC points, the smallest gain a retention
  team would act on (Somers' D = 2·AUC − 1 gains 0.04);
- share of sessions above one half: 0.05 — "most sessions" means a majority by at least 5
  points (55 %), not 50.1 %.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

ALPHA = 0.05

DIFFERENCE, ASSOCIATION = "difference", "association"
NEGLIGIBLE, INCONCLUSIVE = "negligible", "inconclusive"
POSITIVE = (DIFFERENCE, ASSOCIATION)
VERDICTS = (DIFFERENCE, ASSOCIATION, NEGLIGIBLE, INCONCLUSIVE)

# Smallest effect of interest, per effect name (the Result.effect_name of a row).
SESOI: dict[str, float] = {
    "pearson_r": 0.10,
    "spearman_rho": 0.10,
    "rank_biserial": 0.10,
    "cramers_v": 0.10,
    "standardised_beta": 0.10,
    "hedges_g": 0.20,
    "epsilon_squared": 0.01,
    "eta_squared": 0.01,
    "partial_eta_squared": 0.01,
    "auc_gain": 0.02,
    "share_above_half": 0.05,
}

# Effects that cannot be negative: their no-effect region is [0, SESOI].
NON_NEGATIVE = frozenset({"cramers_v", "epsilon_squared", "eta_squared", "partial_eta_squared"})

# Which positive word a family takes: group comparisons find a difference, the rest an association.
DIFFERENCE_FAMILIES = frozenset(
    {
        "hedges_g",
        "rank_biserial",
        "epsilon_squared",
        "eta_squared",
        "partial_eta_squared",
        "share_above_half",
        "auc_gain",
    }
)


def positive_word(effect_name: str) -> str:
    return DIFFERENCE if effect_name in DIFFERENCE_FAMILIES else ASSOCIATION


def _finite(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def verdict(
    effect_name: str | None,
    ci_low: float | None,
    ci_high: float | None,
    p_adjusted: float | None = None,
    *,
    sesoi: float | None = None,
    alpha: float = ALPHA,
) -> str | None:
    """The verdict word of an effect's 95 % CI against its SESOI (module docstring); None if no CI.

    `sesoi` overrides the family's value (e.g. for a slope judged on its standardised scale).
    """
    if effect_name is None or not (_finite(ci_low) and _finite(ci_high)):
        return None
    bound = SESOI.get(effect_name) if sesoi is None else sesoi
    if bound is None:
        return None
    low, high = float(ci_low), float(ci_high)  # type: ignore[arg-type]
    significant = p_adjusted is None or not _finite(p_adjusted) or float(p_adjusted) < alpha
    if effect_name in NON_NEGATIVE:
        beyond, inside = low > bound, high < bound
    else:
        beyond, inside = low > bound or high < -bound, -bound < low and high < bound
    if beyond and significant:
        return positive_word(effect_name)
    if inside:
        return NEGLIGIBLE
    return INCONCLUSIVE


def is_positive(verdict_word: Any) -> bool:
    """True for a verdict that names an effect of interest (difference or association)."""
    return verdict_word in POSITIVE


# --- one magnitude scale for every family (to rank findings of different families together) ----


def to_r(effect_name: str | None, effect: Any) -> float | None:
    """|effect| on a correlation-like 0–1 scale, so that findings of different families rank together.

    r, ρ, rank-biserial, Cramér's V, standardised β: |x| (already correlation-like);
    Hedges g: |g| / √(g² + 4) (the point-biserial r of two equal groups);
    ε², η², partial η²: √x (the correlation whose square is that share of variance);
    AUC: |2·AUC − 1| (Somers' D, the rank-biserial of the scores between the classes).
    Other effects (shares, R², ARI, silhouettes) have no such reading: None.
    """
    if effect_name is None or not _finite(effect):
        return None
    x = float(effect)
    if effect_name in (
        "pearson_r",
        "spearman_rho",
        "rank_biserial",
        "cramers_v",
        "standardised_beta",
    ):
        return min(1.0, abs(x))
    if effect_name == "hedges_g":
        return abs(x) / math.sqrt(x * x + 4)
    if effect_name in ("epsilon_squared", "eta_squared", "partial_eta_squared"):
        return math.sqrt(max(0.0, min(1.0, x)))
    if effect_name == "auc":
        return abs(2 * x - 1)
    return None


def magnitude(row: Mapping[str, Any]) -> float | None:
    """A result row's effect on the common scale (to_r), from its standardised effect when it has one."""
    details = row.get("details") or {}
    if isinstance(details, Mapping) and _finite(details.get("standardised_beta")):
        return to_r("standardised_beta", details["standardised_beta"])
    return to_r(row.get("effect_name"), row.get("effect"))


def size_word(r: float) -> str:
    """Cohen's labels on the correlation scale: below 0.1 negligible, 0.1 small, 0.3 medium, 0.5 large."""
    return "negligible" if r < 0.1 else "small" if r < 0.3 else "medium" if r < 0.5 else "large"
