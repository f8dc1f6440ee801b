"""Verdict words follow effect sizes against the smallest effect of interest (pure logic, fast)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from python_models import clustered
from python_models import effect_sizes as es
from python_models.report import findings


def _text(f: findings.Finding) -> str:
    return "".join(p if isinstance(p, str) else p.text for p in f.parts)


@pytest.mark.parametrize(
    ("name", "low", "high", "expected"),
    [
        ("spearman_rho", 0.15, 0.30, "association"),
        ("spearman_rho", -0.40, -0.12, "association"),
        ("spearman_rho", -0.05, 0.08, "negligible"),
        ("spearman_rho", 0.05, 0.15, "inconclusive"),
        ("spearman_rho", -0.30, 0.30, "inconclusive"),
        ("rank_biserial", 0.11, 0.2, "difference"),
        ("epsilon_squared", 0.0001, 0.004, "negligible"),
        ("epsilon_squared", 0.02, 0.05, "difference"),
        ("epsilon_squared", 0.005, 0.02, "inconclusive"),
        ("cramers_v", 0.2, 0.3, "association"),
        ("hedges_g", -0.1, 0.15, "negligible"),
    ],
)
def test_verdict_compares_the_ci_with_the_smallest_effect_of_interest(name, low, high, expected):
    assert es.verdict(name, low, high) == expected


def test_an_effect_beyond_the_sesoi_is_not_positive_when_its_family_adjusted_p_is_not_small():
    assert es.verdict("spearman_rho", 0.15, 0.3, p_adjusted=0.2) == "inconclusive"


def test_magnitudes_of_different_families_share_one_scale():
    # Cohen's "small" of every family maps to about 0.1 on the correlation scale.
    assert es.to_r("hedges_g", 0.2) == pytest.approx(0.1, abs=0.001)
    assert es.to_r("epsilon_squared", 0.01) == pytest.approx(0.1)
    assert es.to_r("rank_biserial", -0.1) == pytest.approx(0.1)
    assert es.to_r("auc", 0.55) == pytest.approx(0.1)


def _row(name, section, effect_name, effect, low, high, verdict, **details):
    return {
        "section": section,
        "name": name,
        "variables": details.pop("variables", name),
        "effect_name": effect_name,
        "effect": effect,
        "ci_low": low,
        "ci_high": high,
        "n": 1000,
        "verdict": verdict,
        "p_value": 0.001,
        "details": details,
    }


def _results() -> pd.DataFrame:
    groups = {"Premium": {"median": 80.0}, "Basic": {"median": 60.0}}
    return pd.DataFrame(
        [
            _row(
                "premium_vs_basic_mean_completion",
                "hypothesis",
                "rank_biserial",
                0.25,
                0.2,
                0.3,
                "difference",
                groups=groups,
                variables="mean_completion ~ plan (Premium vs Basic)",
            ),
            _row(
                "quality_completion",
                "hypothesis",
                "epsilon_squared",
                0.003,
                0.002,
                0.004,
                "negligible",
                groups={"SD": {"median": 70.0}, "HD": {"median": 72.0}},
            ),
            _row(
                "pearson_lifetime_hours__tenure_days",
                "correlation",
                "pearson_r",
                0.6,
                0.55,
                0.65,
                "association",
                variables="lifetime_hours ~ tenure_days",
            ),
            _row(
                "spearman_lifetime_hours__tenure_days",
                "correlation",
                "spearman_rho",
                0.58,
                0.53,
                0.63,
                "association",
                variables="lifetime_hours ~ tenure_days",
            ),
            _row(
                "spearman_session_watch_minutes__completion",
                "correlation",
                "spearman_rho",
                0.9,
                0.89,
                0.91,
                "association",
                variables="watch_minutes ~ completion",
                definitional="by definition",
            ),
            _row(
                "spearman_age__tenure_days",
                "correlation",
                "spearman_rho",
                0.05,
                -0.1,
                0.2,
                "inconclusive",
                variables="age ~ tenure_days",
            ),
            _row("plan_4k_share", "hypothesis", "cramers_v", 0.4, 0.38, 0.42, "association"),
        ]
    )


def test_headline_findings_rank_effects_of_interest_by_size_across_families():
    head = findings.headline_findings(_results())
    texts = [_text(f) for f in head]
    assert len(head) == 3
    # |r| 0.6 > V 0.4 > rank-biserial 0.25; one row per question; the definitional pair and the
    # inconclusive one are never headlines; every sentence carries its verdict.
    assert texts[0].startswith("Users with more lifetime watch hours tend to have more tenure")
    assert "Share of sessions streamed in 4K by plan" in texts[1]
    assert "Premium users higher than Basic users" in texts[2]
    assert [f.verdict.text for f in head] == ["association", "association", "difference"]
    assert not any("completion" in t and "watch minutes" in t for t in texts)


def test_headline_findings_fill_up_to_three_with_negligible_results_and_respect_limit():
    results = _results()
    only_one = results[results["name"].isin(["plan_4k_share", "quality_completion"])]
    head = findings.headline_findings(only_one)
    assert [f.verdict.text for f in head] == ["association", "negligible"]
    assert "smaller than the smallest one worth acting on" in _text(head[1])
    assert len(findings.headline_findings(results, limit=2)) == 2


# --- session-level inference clustered by user ---------------------------------------------------


def _clustered_sessions(rng, users=60, per_user=20, icc=0.5, shift=0.0):
    """Sessions of `users` users, each with a random user effect (intra-user correlation `icc`),
    at three levels; level C shifted by `shift` SDs."""
    user = np.repeat(np.arange(users), per_user)
    level = rng.choice(["A", "B", "C"], size=user.shape[0])
    y = (
        rng.normal(size=users)[user] * np.sqrt(icc)
        + rng.normal(size=user.shape[0]) * np.sqrt(1 - icc)
        + shift * (level == "C")
    )
    return pd.DataFrame({"user": user, "level": level, "y": y})


def _sums(frame):
    g = frame.groupby(["user", "level"])["y"]
    long = pd.DataFrame({"n": g.size(), "s": g.sum(), "q": g.apply(lambda v: (v**2).sum())})
    return clustered.UserSums.from_long(
        long.reset_index(), user="user", level="level", n="n", s="s", q="q"
    )


def test_clustered_wald_test_equals_statsmodels_ols_with_user_clustered_errors():
    rng = np.random.default_rng(5)
    frame = _clustered_sessions(rng, shift=0.3)
    wald = clustered.wald_equal_means(_sums(frame))
    fit = smf.ols("y ~ C(level)", frame).fit(
        cov_type="cluster", cov_kwds={"groups": frame["user"]}, use_t=True
    )
    test = fit.f_test("C(level)[T.B] = 0, C(level)[T.C] = 0")
    assert wald["F"] == pytest.approx(float(test.fvalue), rel=1e-9)
    assert wald["p"] == pytest.approx(float(test.pvalue), rel=1e-9)
    eta = clustered.eta_squared(
        *(a.sum(axis=0) for a in (_sums(frame).n, _sums(frame).s, _sums(frame).q))
    )
    between = frame.groupby("level")["y"].transform("mean")
    expected = ((between - frame["y"].mean()) ** 2).sum() / (
        (frame["y"] - frame["y"].mean()) ** 2
    ).sum()
    assert float(eta) == pytest.approx(expected)


def test_user_cluster_bootstrap_is_wider_than_treating_sessions_as_independent():
    # With an intra-user correlation of 0.5, a user-level 0/1 trait (share of sessions "C" varies
    # by user) is known far less well than its session count suggests.
    rng = np.random.default_rng(6)
    frame = _clustered_sessions(rng, users=40, per_user=50, icc=0.5)
    sums = _sums(frame)
    assert clustered.design_effect(sums) > 5
    low, high = clustered.bootstrap_ci(sums, rng, 200)
    assert 0 <= low < high
