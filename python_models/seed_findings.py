"""The seed README's three "key findings", each tested as a hypothesis with a verdict.

1. Longer subscriptions mean more watching (tenure → lifetime hours and → watch minutes).
2. Bigger budgets and better ratings mean more views; series popularity grows with seasons and
   episode length.
3. Most sessions are on mobile at medium-high quality, and lower quality means lower completion.

A claim is a conjunction of parts; it is "supported" only when every part is (an
intersection–union test, so its p-value is the largest of its parts' adjusted p-values). A part
is supported when its evidence row's verdict (python_models/effect_sizes.py) is a difference or
association beyond the smallest effect of interest in the claimed direction; "not supported"
when it is negligible or points the other way; "inconclusive" when the data cannot tell. The
evidence rows are named in each finding's details.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from python_models import clustered, effect_sizes
from python_models.data import UserSessionGroups
from python_models.results import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    SUPPORTED,
    Result,
    adjust_family,
    effect_interval,
    fmt_p,
    insufficient,
)

MEDIUM_HIGH = ("HD", "4K")


def _share_result(
    k: int,
    n: int,
    *,
    name: str,
    variables: str,
    against: float,
    words: str,
    details: dict[str, Any],
) -> Result:
    """One-sided exact binomial test that a share exceeds `against`, with a Wilson 95 % CI."""
    test = stats.binomtest(k, n, against, alternative="greater")
    low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
    share = k / n
    return Result(
        section="seed_evidence",
        name=name,
        variables=variables,
        statistic_name="successes",
        statistic=float(k),
        p_value=float(test.pvalue),
        effect_name="share",
        effect=share,
        ci_low=float(low),
        ci_high=float(high),
        n=n,
        interpretation=f"{words}: {share:.1%} (95% CI [{low:.1%}, {high:.1%}]) against {against:.0%}; "
        f"one-sided exact binomial test, {fmt_p(float(test.pvalue))}.",
        details={**details, "null_share": against, "alternative": "greater", "ci": "Wilson, 95%"},
    )


def clustered_share(
    r: Result, k: np.ndarray, n: np.ndarray, rng: np.random.Generator, n_boot: int
) -> Result:
    """A session share re-judged with users as clusters: CI by user cluster bootstrap, one-sided
    p from the user-clustered standard error (clustered.share_inference); the binomial test that
    treats sessions as independent stays in details.session_level_naive."""
    if "not_computed" in r.details or k.shape[0] < 3:
        return r
    inf = clustered.share_inference(k, n, r.details["null_share"], rng, n_boot)
    low, high = inf["ci"]
    return r.with_(
        p_value=inf["p"],
        ci_low=low,
        ci_high=high,
        interpretation=f"{r.interpretation.split(':')[0]}: {r.effect:.1%} (95% CI [{low:.1%}, "
        f"{high:.1%}] by user cluster bootstrap) against {r.details['null_share']:.0%}; one-sided "
        f"z test with user-clustered SE, {fmt_p(inf['p'])}; {inf['clusters']:,} users.",
        details={
            **r.details,
            "inference": clustered.INFERENCE.replace("Wald F test", "one-sided z test"),
            "clusters": inf["clusters"],
            "users": inf["clusters"],
            "design_effect": inf["design_effect"],
            "clustered_share": inf["share"],
            "session_level_naive": {
                "note": "treats sessions as independent; shown for comparison, not judged",
                "test": "one-sided exact binomial test",
                "p_value": r.p_value,
                "ci": [r.ci_low, r.ci_high],
            },
        },
    )


def _level_counts(groups: UserSessionGroups, grouping: str) -> pd.DataFrame:
    part = groups.of(grouping)[["user_id", "group_level", "session_count"]]
    return part.pivot_table(
        index="user_id", columns="group_level", values="session_count", aggfunc="sum", fill_value=0
    )


def device_and_quality_evidence(
    device_quality: pd.DataFrame,
    groups: UserSessionGroups | None = None,
    users: pd.DataFrame | None = None,
    rng: np.random.Generator | None = None,
    n_boot: int = 500,
) -> list[Result]:
    """Is mobile the most used device, and are most sessions HD or 4K? (Holm-adjusted together)

    `device_quality` counts sessions per device and quality level (columns device, quality, n;
    either may be missing), as data.SessionAggregates holds it. With `groups` (per-user session
    counts, data.user_session_groups) and `users` (their session totals), the CIs and p-values
    treat users, not sessions, as the independent units (clustered_share).
    """
    dq = device_quality
    counts = (
        dq[dq["device"].notna()]
        .groupby("device")["n"]
        .sum()
        .sort_values(ascending=False, kind="stable")
    )
    shares = (counts / counts.sum()).to_dict()
    mobile = int(counts.get("Mobile", 0))
    others = counts.drop("Mobile", errors="ignore")
    if others.empty:
        device = insufficient(
            "seed_evidence",
            "mobile_is_top_device",
            "device (sessions)",
            int(counts.sum()),
            "no device other than Mobile to compare with",
        )
    else:
        rival_name = str(others.idxmax())
        rival = int(counts[rival_name])
        device = _share_result(
            mobile,
            mobile + rival,
            name="mobile_is_top_device",
            variables=f"device: Mobile vs {rival_name} (sessions)",
            against=0.5,
            words=f"Mobile's share of the sessions on Mobile or {rival_name} (the busiest other device)",
            details={
                "device_shares": shares,
                "rival": rival_name,
                "mobile_share_of_all": shares.get("Mobile", 0.0),
            },
        )
    medium_high = int(dq.loc[dq["quality"].isin(MEDIUM_HIGH), "n"].sum())
    by_quality = (
        dq[dq["quality"].notna()]
        .groupby("quality")["n"]
        .sum()
        .sort_values(ascending=False, kind="stable")
    )
    on_mobile = dq[dq["device"] == "Mobile"]
    quality = _share_result(
        medium_high,
        int(dq["n"].sum()),
        name="most_sessions_hd_or_4k",
        variables="quality in (HD, 4K) (sessions)",
        against=0.5,
        words="Share of sessions in HD or 4K",
        details={
            "quality_shares": (by_quality / by_quality.sum()).to_dict(),
            "share_hd_or_4k_on_mobile": float(
                on_mobile.loc[on_mobile["quality"].isin(MEDIUM_HIGH), "n"].sum()
                / on_mobile["n"].sum()
            )
            if on_mobile["n"].sum()
            else None,
        },
    )
    if groups is not None and users is not None:
        rng = rng or np.random.default_rng(0)
        by_device = _level_counts(groups, "device")
        if "rival" in device.details and {"Mobile", device.details["rival"]} <= set(by_device):
            mobile_k = by_device["Mobile"].to_numpy(float)
            both = mobile_k + by_device[device.details["rival"]].to_numpy(float)
            keep = both > 0
            device = clustered_share(device, mobile_k[keep], both[keep], rng, n_boot)
        by_quality = _level_counts(groups, "quality")
        totals = users.set_index("user_id")["sessions"]
        totals = totals[totals > 0]
        hd = by_quality.reindex(columns=list(MEDIUM_HIGH), fill_value=0).sum(axis=1)
        quality = clustered_share(
            quality,
            hd.reindex(totals.index, fill_value=0).to_numpy(float),
            totals.to_numpy(float),
            rng,
            n_boot,
        )
    return adjust_family([device, quality])


def _part(
    r: Result | None,
    *,
    claim: str,
    direction: float | None = None,
    extra_ok: bool = True,
    extra_note: str = "",
) -> dict[str, Any]:
    """Whether one piece of evidence supports its part of a claim, and why.

    The evidence row's own verdict (effect_sizes: its CI against its family's SESOI) decides: a
    difference/association in the claimed direction supports the part; one in the other
    direction, or a negligible effect, does not; an inconclusive row leaves the part
    inconclusive. `direction` is the signed effect when the row's effect has no sign (η²).
    """
    if r is None or "not_computed" in r.details:
        why = r.details["not_computed"] if r is not None else "too little data"
        return {
            "evidence": r.name if r is not None else None,
            "claim": claim,
            "supported": False,
            "verdict": INCONCLUSIVE,
            "why": f"not computed: {why}",
        }
    p = r.p_adjusted if r.p_adjusted is not None else r.p_value
    _, size, low, high = effect_interval(r)
    sign = direction if direction is not None else size
    if effect_sizes.is_positive(r.verdict) and sign is not None and sign > 0 and extra_ok:
        verdict, why = SUPPORTED, f"{r.verdict} beyond the smallest effect of interest, as claimed"
    elif effect_sizes.is_positive(r.verdict) and sign is not None and sign > 0:
        verdict, why = NOT_SUPPORTED, extra_note
    elif effect_sizes.is_positive(r.verdict):
        verdict, why = NOT_SUPPORTED, f"{r.verdict} in the other direction"
    elif r.verdict == effect_sizes.NEGLIGIBLE:
        verdict, why = (
            NOT_SUPPORTED,
            "negligible: the 95% CI lies inside the smallest effect of interest",
        )
    else:
        verdict, why = (
            INCONCLUSIVE,
            "inconclusive: the 95% CI spans both negligible effects and effects of interest",
        )
    return {
        "evidence": r.name,
        "claim": claim,
        "supported": verdict == SUPPORTED,
        "verdict": verdict,
        "evidence_verdict": r.verdict,
        "p_adjusted": p,
        "effect": size,
        "ci": [low, high],
        "sesoi": r.details.get("sesoi"),
        "why": why,
    }


def _finding(name: str, claim: str, parts: list[dict[str, Any]]) -> Result:
    verdicts = [p["verdict"] for p in parts]
    verdict = (
        SUPPORTED
        if all(v == SUPPORTED for v in verdicts)
        else NOT_SUPPORTED
        if NOT_SUPPORTED in verdicts
        else INCONCLUSIVE
    )
    p_values = [p.get("p_adjusted") for p in parts]
    p_iut = (
        max(p for p in p_values if p is not None) if any(p is not None for p in p_values) else None
    )
    summary = "; ".join(f"{p['claim']}: {p['verdict']} ({p['why']})" for p in parts)
    return Result(
        section="seed_finding",
        name=name,
        variables=claim,
        statistic_name="parts_supported",
        statistic=float(sum(p["supported"] for p in parts)),
        p_value=p_iut,
        n=len(parts),
        verdict=verdict,
        interpretation=f"{verdict.capitalize()}: {claim}. {summary}.",
        details={
            "parts": parts,
            "rule": "supported when every part's evidence shows a difference or association "
            "beyond its smallest effect of interest in the claimed direction; not supported when "
            "a part is negligible or points the other way; inconclusive otherwise. "
            "p = the largest part p (intersection-union test)",
        },
    )


def run(results: Mapping[str, Result], evidence: list[Result]) -> list[Result]:
    """The three findings from the already computed (and adjusted) results plus `evidence`."""
    get = results.get
    by_name = {r.name: r for r in evidence}
    f1 = _finding(
        "seed_claim_1_tenure_more_watching",
        "longer subscription (tenure) goes with more watching",
        [
            _part(
                get("spearman_lifetime_hours__tenure_days"),
                claim="tenure ~ lifetime hours",
            ),
            _part(
                get("spearman_watch_minutes__tenure_days"),
                claim="tenure ~ watch minutes in the log",
            ),
        ],
    )
    slope_parts = []
    for key, claim in (
        ("movies_views_on_budget_musd", "bigger budget goes with more movie views"),
        ("movies_views_on_rating", "higher rating goes with more movie views"),
        ("series_views_on_seasons", "more seasons go with more series views"),
        ("series_views_on_episode_minutes", "longer episodes go with more series views"),
    ):
        r = get(key)
        slope_parts.append(
            _part(
                r,
                claim=claim,
            )
        )
    f2 = _finding(
        "seed_claim_2_budget_rating_seasons_views",
        "bigger budget and rating go with more views; series popularity grows with seasons and episode length",
        slope_parts,
    )
    adjusted = get("quality_completion_given_plan")
    ordered = True
    if adjusted is not None:
        coefs = adjusted.details.get("coefficients", {})
        # Reference level is 4K (first in sorted order): SD < HD < 4K means coef(SD) < coef(HD) < 0.
        sd, hd = coefs.get("quality_SD"), coefs.get("quality_HD")
        ordered = sd is not None and hd is not None and sd < hd < 0
    f3 = _finding(
        "seed_claim_3_mobile_quality_completion",
        "most sessions are on mobile at medium-high quality, and lower quality goes with lower completion",
        [
            _part(
                by_name.get("mobile_is_top_device"),
                claim="mobile is the most used device",
            ),
            _part(
                by_name.get("most_sessions_hd_or_4k"),
                claim="most sessions are HD or 4K",
            ),
            _part(
                adjusted,
                claim="lower quality goes with lower completion (plan held fixed)",
                direction=1.0,
                extra_ok=ordered,
                extra_note="completion does not rise from SD to HD to 4K",
            ),
        ],
    )
    return [f1, f2, f3]
