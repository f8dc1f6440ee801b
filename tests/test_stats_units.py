"""Statistics building blocks on synthetic data, each checked against an independent computation
(a textbook formula, another library, or a brute-force loop). No database needed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import adjusted_rand_score, roc_auc_score
from statsmodels.stats.multitest import multipletests

from python_models import (
    clustering,
    correlations,
    descriptive,
    popularity_regression,
    retention_model,
    seed_findings,
)
from python_models import hypothesis_tests as ht
from python_models.data import WEEKDAYS, SessionAggregates
from python_models.frequencies import Freq, dagostino_k2, levene_median
from python_models.results import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    SUPPORTED,
    Result,
    adjust_family,
    clean,
    holm,
    judge,
)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240801)


# --- descriptive ---------------------------------------------------------------------------------


def test_describe_matches_pandas_and_hand_counted_outliers(rng):
    x = np.round(np.concatenate([rng.gamma(2.0, 10.0, 500), [400.0, 500.0]]), 1)
    d = descriptive.describe(x, "v", "unit")
    s = pd.Series(x)
    assert d.n == 502
    assert d.mean == pytest.approx(s.mean())
    assert d.median == pytest.approx(s.median())
    assert d.sd == pytest.approx(s.std())
    assert d.q1 == pytest.approx(s.quantile(0.25)) and d.q3 == pytest.approx(s.quantile(0.75))
    assert d.skew == pytest.approx(s.skew()) and d.kurtosis == pytest.approx(s.kurt())
    assert (d.min, d.max) == (s.min(), s.max())
    counts = s.value_counts()
    assert d.mode == min(counts[counts == counts.max()].index) and d.mode_count == counts.max()
    iqr = s.quantile(0.75) - s.quantile(0.25)
    assert d.n_outliers_iqr == int(
        ((s < s.quantile(0.25) - 1.5 * iqr) | (s > s.quantile(0.75) + 1.5 * iqr)).sum()
    )
    mad = (s - s.median()).abs().median()
    assert d.n_outliers_robust_z == int((0.6745 * (s - s.median()).abs() / mad > 3.5).sum())
    assert d.n_outliers_robust_z >= 2  # the two planted extremes are flagged, not dropped
    assert d.n == x.shape[0]


def test_robust_z_falls_back_to_mean_absolute_deviation_when_mad_is_zero():
    x = np.array([5.0] * 20 + [6.0, 50.0])
    z = descriptive.robust_z(x)
    mean_ad = np.mean(np.abs(x - 5.0))
    assert z[-1] == pytest.approx(45.0 / (1.2533 * mean_ad))
    assert descriptive.robust_z_outliers(x).sum() >= 1


def test_describe_of_nothing_says_n_zero():
    d = descriptive.describe(np.array([np.nan]), "v", "unit")
    assert d.n == 0 and d.mean is None and d.n_outliers_iqr == 0


# --- multiple testing ----------------------------------------------------------------------------


def test_holm_matches_statsmodels_and_a_positive_verdict_needs_the_adjusted_p_too():
    # Verdicts follow the effect's CI against the SESOI (effect_sizes); an effect beyond it still
    # needs its Holm-adjusted p below alpha, else it is inconclusive (was: verdict from p alone).
    p = [0.01, 0.04, 0.03, 0.2, 0.001]
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1].tolist())
    rows = adjust_family(
        [
            Result(
                "s",
                f"r{i}",
                "v",
                p_value=v,
                effect_name="spearman_rho",
                effect=0.3,
                ci_low=0.2,
                ci_high=0.4,
            )
            for i, v in enumerate(p)
        ]
    )
    assert [r.verdict for r in rows] == [
        "association" if a < 0.05 else "inconclusive" for a in multipletests(p, method="holm")[1]
    ]
    assert (
        rows[1].p_value == 0.04 and rows[1].verdict == "inconclusive"
    )  # raw p < 0.05, adjusted not
    assert [r.p_adjusted for r in rows] == pytest.approx(multipletests(p, method="holm")[1])


def test_clean_makes_json_safe_values():
    assert clean(
        {"a": np.float64("nan"), "b": np.int64(3), "c": (np.bool_(True), float("inf"))}
    ) == {"a": None, "b": 3, "c": [True, None]}


# --- effect sizes --------------------------------------------------------------------------------


def test_hedges_g_and_its_ci_follow_hedges_and_olkin(rng):
    a, b = rng.normal(1.0, 2.0, 40), rng.normal(0.0, 2.0, 60)
    g, low, high = ht.hedges_g(a, b)
    n1, n2 = 40, 60
    sp = np.sqrt(((n1 - 1) * a.var(ddof=1) + (n2 - 1) * b.var(ddof=1)) / (n1 + n2 - 2))
    j = 1 - 3 / (4 * (n1 + n2) - 9)
    expected = j * (a.mean() - b.mean()) / sp
    se = np.sqrt((n1 + n2) / (n1 * n2) + expected**2 / (2 * (n1 + n2)))
    assert g == pytest.approx(expected)
    assert (low, high) == pytest.approx(
        (expected - 1.959964 * se, expected + 1.959964 * se), rel=1e-5
    )


def test_rank_biserial_equals_probability_of_superiority_difference(rng):
    a, b = np.round(rng.normal(1, 1, 70), 1), np.round(rng.normal(0, 1, 50), 1)
    u = stats.mannwhitneyu(a, b).statistic
    assert ht.rank_biserial(a, b) == pytest.approx(2 * u / (70 * 50) - 1)
    brute = np.mean([np.sign(x - y) for x in a for y in b])
    assert ht.rank_biserial(a, b) == pytest.approx(brute)


def test_count_based_statistics_equal_the_row_based_ones(rng):
    groups = [np.round(rng.normal(m, 1, n), 1) for m, n in ((0, 120), (0.4, 80), (0.1, 60))]
    values, codes = np.unique(np.concatenate(groups), return_inverse=True)
    counts, start = [], 0
    for g in groups:
        counts.append(
            np.bincount(codes[start : start + g.shape[0]], minlength=values.shape[0])[
                None, :
            ].astype(float)
        )
        start += g.shape[0]
    assert ht.kruskal_h_from_counts(counts)[0] == pytest.approx(stats.kruskal(*groups).statistic)
    assert ht.epsilon_squared_from_counts(values, counts)[0] == pytest.approx(
        ht.epsilon_squared(groups)
    )
    assert ht.rank_biserial_from_counts(values, counts[:2])[0] == pytest.approx(
        ht.rank_biserial(*groups[:2])
    )
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    frame = pd.DataFrame(
        {"y": np.concatenate(groups), "g": np.repeat(["a", "b", "c"], [120, 80, 60])}
    )
    table = anova_lm(smf.ols("y ~ C(g)", frame).fit())
    eta = table.loc["C(g)", "sum_sq"] / table["sum_sq"].sum()
    assert ht.eta_squared_from_counts(values, counts)[0] == pytest.approx(eta)
    assert ht.eta_squared(groups) == pytest.approx(eta)


def test_frequency_tables_give_the_row_based_statistics(rng):
    x = np.round(rng.gamma(2.0, 10.0, 3001), 0)
    f = descriptive.Freq.of(*np.unique(rng.permutation(x), return_counts=True))
    assert f.n == x.shape[0]
    assert list(f.percentile([0, 10, 25, 50, 75, 99.9, 100])) == pytest.approx(
        np.percentile(x, [0, 10, 25, 50, 75, 99.9, 100]), rel=1e-12
    )
    assert (f.mean(), f.sd()) == pytest.approx((x.mean(), x.std(ddof=1)), rel=1e-12)
    assert (f.skew(), f.excess_kurtosis()) == pytest.approx(
        (stats.skew(x, bias=False), stats.kurtosis(x, bias=False)), rel=1e-9
    )
    assert dagostino_k2(f) == pytest.approx(tuple(stats.normaltest(x)), rel=1e-9)
    y = np.round(rng.normal(30, 12, 800), 0)
    assert levene_median([f, Freq.from_sample(y)]) == pytest.approx(
        tuple(stats.levene(x, y, center="median")), rel=1e-9
    )
    assert descriptive.describe(f, "v", "unit") == descriptive.describe(x, "v", "unit")
    # Sampling from a table consumes the generator as sampling the rows does.
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    sample = f.sample(500, a)
    b.choice(x, 500, replace=False)
    assert a.random() == b.random() and np.isin(sample, x).all() and sample.shape == (500,)
    # A comparison of tables is the comparison of their rows.
    groups = {"a": x[:1500], "b": x[1500:] + 2.0, "c": y}
    by_rows = ht.compare_many(
        groups, name="t", variables="v", measure="m", rng=np.random.default_rng(3), n_boot=200
    )
    by_tables = ht.compare_many(
        {k: Freq.from_sample(v) for k, v in groups.items()},
        name="t",
        variables="v",
        measure="m",
        rng=np.random.default_rng(3),
        n_boot=200,
    )
    assert by_rows == by_tables
    assert by_rows.statistic == pytest.approx(stats.kruskal(*groups.values()).statistic, rel=1e-9)


def test_correlations_of_a_joint_frequency_table_equal_scipy_on_its_rows(rng):
    x = rng.integers(1, 40, 3000).astype(float)
    y = np.round(np.clip(x * 2 + rng.normal(0, 15, 3000), 0, 100), 0)
    pairs = pd.DataFrame({"x": x, "y": y}).groupby(["x", "y"]).size().reset_index(name="n")
    got = correlations.table_correlations(pairs["x"], pairs["y"], pairs["n"])
    assert got["n"] == 3000
    assert got["pearson"] == pytest.approx(stats.pearsonr(x, y).statistic, rel=1e-12)
    assert got["spearman"] == pytest.approx(stats.spearmanr(x, y).statistic, rel=1e-12)


def test_session_correlation_p_values_equal_scipy(rng):
    x = rng.normal(size=300)
    y = 0.2 * x + rng.normal(size=300)
    r = stats.pearsonr(x, y)
    assert correlations.p_value(float(r.statistic), 300, "pearson") == pytest.approx(
        r.pvalue, rel=1e-9
    )
    rho = stats.spearmanr(x, y)
    assert correlations.p_value(float(rho.statistic), 300, "spearman") == pytest.approx(
        rho.pvalue, rel=1e-9
    )


def test_multinomial_bootstrap_agrees_with_a_row_resampling_bootstrap(rng):
    a, b = np.round(rng.normal(0.5, 1, 300), 1), np.round(rng.normal(0, 1, 200), 1)
    low, high = ht.bootstrap_groups([a, b], ht.rank_biserial_from_counts, rng, 2000)
    other = np.random.default_rng(7)
    naive = [
        ht.rank_biserial(a[other.integers(0, 300, 300)], b[other.integers(0, 200, 200)])
        for _ in range(2000)
    ]
    n_low, n_high = np.percentile(naive, [2.5, 97.5])
    assert low == pytest.approx(n_low, abs=0.02) and high == pytest.approx(n_high, abs=0.02)


def test_cramers_v_matches_scipy_association(rng):
    table = np.array([[120, 380], [150, 350], [200, 300]])
    assert ht.cramers_v(table) == pytest.approx(
        stats.contingency.association(table, method="cramer")
    )


def test_partial_eta_squared_ci_inverts_the_noncentral_f():
    f, df1, df2 = 6.0, 2.0, 300.0
    low, high = ht.partial_eta_squared_ci(f, df1, df2)
    to_lambda = lambda eta: eta / (1 - eta) * (df1 + df2 + 1)
    assert stats.ncf.cdf(f, df1, df2, to_lambda(low)) == pytest.approx(0.975, abs=1e-4)
    assert stats.ncf.cdf(f, df1, df2, to_lambda(high)) == pytest.approx(0.025, abs=1e-4)
    assert ht.partial_eta_squared_ci(0.1, 2, 300)[0] == 0.0  # a tiny F cannot exclude zero


# --- choice of test ------------------------------------------------------------------------------


def test_each_test_is_chosen_by_its_assumption_checks(rng):
    a, b = rng.normal(0.3, 1, 80), rng.normal(0, 1, 80)
    student = ht.compare_two(
        a, b, name="x", variables="v", label_a="A", label_b="B", measure="m", rng=rng
    )
    assert student.details["test"] == "Student t test"
    assert student.p_value == pytest.approx(stats.ttest_ind(a, b).pvalue)
    c, d = rng.normal(0.5, 1, 80), rng.normal(0, 4, 80)
    welch = ht.compare_two(
        c, d, name="x", variables="v", label_a="A", label_b="B", measure="m", rng=rng
    )
    assert welch.details["test"] == "Welch t test"
    assert welch.p_value == pytest.approx(stats.ttest_ind(c, d, equal_var=False).pvalue)
    e, f = rng.exponential(2, 200), rng.exponential(1, 200)
    mw = ht.compare_two(
        e, f, name="x", variables="v", label_a="A", label_b="B", measure="m", rng=rng
    )
    assert mw.details["test"] == "Mann-Whitney U test" and mw.effect_name == "rank_biserial"
    assert mw.p_value == pytest.approx(stats.mannwhitneyu(e, f, method="asymptotic").pvalue)
    assert mw.ci_low < mw.effect < mw.ci_high
    skewed = {k: rng.exponential(s, 150) for k, s in (("a", 1), ("b", 1.5), ("c", 1))}
    kw = ht.compare_many(skewed, name="x", variables="v", measure="m", rng=rng, n_boot=300)
    assert kw.details["test"] == "Kruskal-Wallis test"
    assert kw.statistic == pytest.approx(stats.kruskal(*skewed.values()).statistic)
    # Its own generator: the data must not depend on how many numbers the bootstraps above drew.
    own = np.random.default_rng(20240802)
    normal = {k: own.normal(m, s, 150) for k, m, s in (("a", 0, 1), ("b", 0.3, 3), ("c", 0, 1))}
    welch_anova = ht.compare_many(normal, name="x", variables="v", measure="m", rng=rng, n_boot=300)
    assert welch_anova.details["test"] == "Welch ANOVA"
    assert welch_anova.p_value == pytest.approx(_welch_anova_p(list(normal.values())))


def _welch_anova_p(groups: list[np.ndarray]) -> float:
    """Welch's (1951) heteroscedastic one-way ANOVA, by its textbook formula."""
    k = len(groups)
    n = np.array([g.shape[0] for g in groups], dtype=float)
    m = np.array([g.mean() for g in groups])
    w = n / np.array([g.var(ddof=1) for g in groups])
    mw = (w * m).sum() / w.sum()
    a = (w * (m - mw) ** 2).sum() / (k - 1)
    lam = ((1 - w / w.sum()) ** 2 / (n - 1)).sum()
    f = a / (1 + 2 * (k - 2) / (k**2 - 1) * lam)
    return float(stats.f.sf(f, k - 1, (k**2 - 1) / (3 * lam)))


def test_association_reports_chi_square_and_cramers_v():
    table = pd.DataFrame(
        [[240, 760], [265, 735], [370, 630]],
        index=["Basic", "Standard", "Premium"],
        columns=["4K", "other"],
    )
    r = ht.association(table, name="x", variables="v", measure="m", rng=np.random.default_rng(1))
    chi = stats.chi2_contingency(table.to_numpy(), correction=False)
    assert r.statistic == pytest.approx(chi.statistic) and r.p_value == pytest.approx(chi.pvalue)
    assert r.ci_low < r.effect < r.ci_high
    assert "Premium 37.0%" in r.interpretation


def test_adjusted_factor_finds_no_quality_effect_once_plan_explains_it(rng):
    n = 6000
    plan = rng.choice(["Basic", "Premium"], n)
    quality = np.where(rng.random(n) < np.where(plan == "Premium", 0.5, 0.2), "4K", "SD")
    completion = np.where(plan == "Premium", 88.0, 68.0) + rng.normal(0, 10, n)
    frame = pd.DataFrame(
        {
            "completion": completion,
            "quality": quality,
            "plan": plan,
            "user_id": rng.integers(0, 600, n),
        }
    )
    marginal = stats.kruskal(*[g["completion"] for _, g in frame.groupby("quality")]).pvalue
    assert marginal < 1e-6  # confounded by plan
    r = ht.adjusted_factor(
        _cells(frame), factor="quality", adjust_for="plan", name="x", variables="v", measure="m"
    )
    assert r.p_value > 0.01 and r.effect < 0.01
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    model = smf.ols("completion ~ C(quality) + C(plan)", frame)
    table = anova_lm(model.fit(), typ=2)
    ss_q, ss_e = table.loc["C(quality)", "sum_sq"], table.loc["Residual", "sum_sq"]
    assert r.effect == pytest.approx(ss_q / (ss_q + ss_e))
    assert r.details["classic_f"] == pytest.approx(table.loc["C(quality)", "F"])
    assert r.n == n


def _cells(frame: pd.DataFrame) -> pd.DataFrame:
    """What data.completion_cells returns, by pandas: per user × quality × plan n, sum, within SS."""
    g = frame.groupby(["user_id", "quality", "plan"])["completion"]
    cells = pd.DataFrame(
        {"n": g.size(), "sum_y": g.sum(), "ss_y": g.var(ddof=0) * g.size()}
    ).reset_index()
    return cells.assign(cluster=pd.factorize(cells["user_id"])[0] + 1)


def test_adjusted_factor_from_cells_equals_statsmodels_on_rows_with_clustered_errors(rng):
    n = 5000
    users = rng.integers(0, 400, n)
    plan = np.array(["Basic", "Standard", "Premium"])[users % 3]
    quality = rng.choice(["SD", "HD", "4K"], n, p=[0.3, 0.5, 0.2])
    completion = (
        70
        + 1.0 * (quality == "4K")
        - 0.5 * (quality == "SD")
        + 6 * (plan == "Premium")
        + rng.normal(0, 6, 400)[users]
        + rng.normal(0, 10, n)
    )
    frame = pd.DataFrame(
        {"completion": np.round(completion, 1), "quality": quality, "plan": plan, "user_id": users}
    )
    r = ht.adjusted_factor(
        _cells(frame), factor="quality", adjust_for="plan", name="x", variables="v", measure="m"
    )
    import statsmodels.formula.api as smf

    model = smf.ols("completion ~ C(quality) + C(plan)", frame)
    robust = model.fit(cov_type="cluster", cov_kwds={"groups": frame["user_id"].to_numpy()})
    wald = robust.f_test("C(quality)[T.HD] = 0, C(quality)[T.SD] = 0")
    assert r.statistic == pytest.approx(float(np.squeeze(wald.fvalue)), rel=1e-9)
    assert r.p_value == pytest.approx(float(wald.pvalue), rel=1e-9, abs=1e-300)
    assert r.details["clusters"] == 400
    fit = model.fit()
    assert r.details["coefficients"] == pytest.approx(
        {"quality_HD": fit.params["C(quality)[T.HD]"], "quality_SD": fit.params["C(quality)[T.SD]"]}
    )


# --- correlations --------------------------------------------------------------------------------


def test_fisher_ci_and_correlations_match_formulas(rng):
    x = rng.normal(size=200)
    y = 0.4 * x + rng.normal(size=200)
    r = correlations.correlation_result(
        x, y, method="pearson", name="p", variables="x ~ y", words=("x", "y"), level="user"
    )
    expected = np.corrcoef(x, y)[0, 1]
    z, se = np.arctanh(expected), 1 / np.sqrt(197)
    assert r.effect == pytest.approx(expected)
    assert (r.ci_low, r.ci_high) == pytest.approx(
        (np.tanh(z - 1.959964 * se), np.tanh(z + 1.959964 * se)), rel=1e-5
    )
    s = correlations.correlation_result(
        x, y, method="spearman", name="s", variables="x ~ y", words=("x", "y"), level="user"
    )
    rho = np.corrcoef(stats.rankdata(x), stats.rankdata(y))[0, 1]
    se_s = np.sqrt((1 + rho**2 / 2) / 197)
    assert s.effect == pytest.approx(rho)
    assert s.ci_low == pytest.approx(np.tanh(np.arctanh(rho) - 1.959964 * se_s), rel=1e-5)


# --- regression ----------------------------------------------------------------------------------


def test_popularity_regression_coefficients_equal_least_squares(rng):
    n = 120
    movies = pd.DataFrame(
        {
            "content_type": "movie",
            "budget": rng.uniform(2e6, 3e8, n),
            "rating": np.round(rng.uniform(1, 5, n), 1),
        }
    )
    movies["views"] = (
        20_000 * movies["rating"] + 0.0002 * movies["budget"] + rng.normal(0, 40_000, n)
    )
    series = pd.DataFrame(
        {
            "content_type": "series",
            "seasons": rng.integers(1, 9, 60).astype(float),
            "length_minutes": rng.integers(20, 61, 60).astype(float),
            "views": rng.uniform(1e4, 4e5, 60),
        }
    )
    rows = {
        r.name: r for r in popularity_regression.run(pd.concat([movies, series], ignore_index=True))
    }
    design = np.column_stack([np.ones(n), movies["budget"] / 1e6, movies["rating"]])
    beta, *_ = np.linalg.lstsq(design, movies["views"].to_numpy(), rcond=None)
    assert rows["movies_views_on_budget_musd"].effect == pytest.approx(beta[1])
    assert rows["movies_views_on_rating"].effect == pytest.approx(beta[2])
    fitted = design @ beta
    r2 = (
        1
        - ((movies["views"] - fitted) ** 2).sum()
        / ((movies["views"] - movies["views"].mean()) ** 2).sum()
    )
    assert rows["movies_views_model"].effect == pytest.approx(r2)
    assert rows["movies_views_on_rating"].p_value < 0.001
    assert (
        rows["series_views_on_seasons"].ci_low < 0 < rows["series_views_on_seasons"].ci_high
        or rows["series_views_on_seasons"].p_value >= 0.01
    )


# --- clustering ----------------------------------------------------------------------------------


def test_clustering_recovers_three_separated_groups_and_both_methods_agree(rng):
    n = 300
    centre = rng.integers(0, 3, n)
    users = pd.DataFrame(
        {
            "user_id": [f"U{i:04d}" for i in range(n)],
            "plan": rng.choice(["Basic", "Premium"], n),
            "age": rng.integers(18, 66, n).astype(float),
            "tenure_days": rng.integers(100, 900, n).astype(float),
        }
    )
    for j, feature in enumerate(clustering.FEATURES):
        users[feature] = 5.0 + centre * 10.0 * (1 + j % 2) + rng.normal(0, 1, n)
    out = clustering.run(users, seed=3, n_boot=100)
    chosen = next(r for r in out.results if r.name == "kmeans_chosen_k")
    assert chosen.statistic == 3
    assert adjusted_rand_score(centre, out.assignments["kmeans_cluster"]) == pytest.approx(1.0)
    ari = next(r for r in out.results if r.name == "kmeans_vs_ward_ari")
    assert ari.effect == pytest.approx(1.0)
    assert (
        out.assignments["kmeans_cluster"] == out.assignments["ward_cluster"]
    ).all()  # labels matched
    sizes = np.bincount(out.assignments["kmeans_cluster"])
    assert list(sizes) == sorted(sizes, reverse=True)


# --- retention -----------------------------------------------------------------------------------


def test_delong_auc_matches_brute_force(rng):
    y = rng.random(300) < 0.3
    score = np.round(y * 0.5 + rng.normal(0, 0.6, 300), 1)  # ties on purpose
    auc, se, low, high = retention_model.delong_auc(y, score)
    pos, neg = score[y], score[~y]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    assert auc == pytest.approx(psi.mean()) and auc == pytest.approx(roc_auc_score(y, score))
    assert se == pytest.approx(
        np.sqrt(v10.var(ddof=1) / pos.shape[0] + v01.var(ddof=1) / neg.shape[0])
    )
    assert (low, high) == pytest.approx((auc - 1.959964 * se, auc + 1.959964 * se), rel=1e-5)


def _toy_sessions(rng: np.random.Generator, users: int = 200) -> tuple[pd.DataFrame, pd.DataFrame]:
    u = pd.DataFrame(
        {
            "user_id": [f"U{i:04d}" for i in range(users)],
            "plan": rng.choice(["Basic", "Standard", "Premium"], users),
            "age": rng.integers(18, 66, users).astype(float),
            "registration_date": pd.to_datetime("2023-01-01")
            + pd.to_timedelta(rng.integers(0, 400, users), unit="D"),
        }
    )
    n = users * 30
    s = pd.DataFrame(
        {
            "user_id": rng.choice(u["user_id"], n),
            "watch_date": pd.to_datetime("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 244, n), unit="D"),
            "watch_minutes": rng.integers(2, 120, n).astype(float),
            "completion": rng.uniform(10, 100, n),
            "device": rng.choice(["Mobile", "Smart TV"], n),
            "quality": rng.choice(["HD", "4K", "SD"], n),
        }
    )
    return u, s


def _before(sessions: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """What data.sessions_before returns, by pandas (without its where clause: that is tested)."""
    flagged = sessions.assign(
        is_4k=(sessions["quality"] == "4K").astype(float),
        is_mobile=(sessions["device"] == "Mobile").astype(float),
        recent=(sessions["watch_date"] >= cutoff - pd.Timedelta(days=30)).astype(int),
    )
    g = flagged.groupby("user_id")
    return pd.DataFrame(
        {
            "sessions_before": g.size(),
            "watch_minutes_before": g["watch_minutes"].sum(),
            "mean_completion_before": g["completion"].mean(),
            "active_days_before": g["watch_date"].nunique(),
            "last_session": g["watch_date"].max(),
            "share_4k_before": g["is_4k"].mean(),
            "share_mobile_before": g["is_mobile"].mean(),
            "sessions_last_30_days": g["recent"].sum(),
        }
    ).reset_index()


def test_retention_features_refuse_behaviour_from_the_target_month(rng):
    users, sessions = _toy_sessions(rng)
    cutoff = pd.Timestamp("2024-08-01")
    before = _before(sessions[sessions["watch_date"] < cutoff], cutoff)
    a = retention_model.features(users, before, cutoff)
    assert len(a) == int((users["registration_date"] < cutoff).sum())
    silent = users[
        ~users["user_id"].isin(before["user_id"]) & (users["registration_date"] < cutoff)
    ]
    assert (a.set_index("user_id").loc[silent["user_id"], "no_sessions_before"] == 1.0).all()
    # Aggregates that saw a session on or after the cutoff are refused (the SQL's where clause is
    # checked against the database in test_stats_pipeline).
    with pytest.raises(ValueError, match="before the cutoff"):
        retention_model.features(users, _before(sessions, cutoff), cutoff)


def test_weighted_logistic_fit_equals_scikit_learn_on_the_repeated_rows(rng):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.column_stack(
        [rng.normal(50, 10, 400), rng.exponential(3, 400), np.zeros(400), rng.integers(0, 2, 400)]
    )
    y = (rng.random(400) < 1 / (1 + np.exp(-(x[:, 0] - 50) / 10 - x[:, 3]))).astype(int)
    idx = rng.integers(0, 400, 400)  # a bootstrap resample: the same rows, as counts
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(C=1.0, solver="newton-cholesky", max_iter=200, tol=1e-12),
    ).fit(x[idx], y[idx])
    theta = retention_model.standardised_logistic(x, y, np.bincount(idx, minlength=400))
    assert theta[1:] == pytest.approx(model[-1].coef_[0], abs=1e-9)
    assert theta[0] == pytest.approx(model[-1].intercept_[0], abs=1e-9)
    coef, ci = retention_model.coefficient_cis(x, y, np.random.default_rng(1), 50)
    assert (ci[0] <= coef + 1e-12).all() and (coef - 1e-12 <= ci[1]).all()


def test_a_leaky_feature_is_refused_as_a_bug(rng):
    y = (rng.random(400) < 0.8).astype(int)
    x = np.column_stack(
        [rng.normal(size=400), y + rng.normal(0, 0.05, 400)]
    )  # the target, barely hidden
    scores = retention_model.out_of_fold(x, y, seed=1)["scores"]["logistic"]
    auc = retention_model.delong_auc(y, scores)[0]
    assert auc > 0.95
    with pytest.raises(retention_model.LeakageSuspected, match="treated as a bug"):
        retention_model.check_leakage(auc, y, "logistic")
    retention_model.check_leakage(0.80, y, "logistic")  # a plausible score passes


# --- the seed's claims ---------------------------------------------------------------------------


def _r(name: str, p: float, effect: float, ci: tuple[float, float], family: str, **details):
    row = Result(
        "s",
        name,
        "v",
        p_value=p,
        p_adjusted=p,
        effect_name=family,
        effect=effect,
        ci_low=ci[0],
        ci_high=ci[1],
        details=details,
    )
    return judge(row, p)


def _share(name: str, share: float, ci: tuple[float, float]) -> Result:
    row = Result(
        "seed_evidence",
        name,
        "v",
        p_value=0.001,
        p_adjusted=0.001,
        effect_name="share",
        effect=share,
        ci_low=ci[0],
        ci_high=ci[1],
        details={"null_share": 0.5},
    )
    return judge(row, 0.001)


def _seed_results() -> dict[str, Result]:
    slope = lambda name, b, ci: _r(
        name,
        0.001,
        100.0,
        (50.0, 150.0),
        "coef_views_per_unit",
        standardised_beta=b,
        standardised_ci=list(ci),
    )
    return {
        # significant (p = 0.001) but its whole CI inside ±0.1: negligible
        "spearman_lifetime_hours__tenure_days": _r("a", 0.001, 0.05, (0.02, 0.08), "spearman_rho"),
        "spearman_watch_minutes__tenure_days": _r("b", 0.001, 0.30, (0.25, 0.35), "spearman_rho"),
        "movies_views_on_budget_musd": slope("c", 0.2, (0.15, 0.25)),
        "movies_views_on_rating": slope("d", 0.3, (0.2, 0.4)),
        "series_views_on_seasons": slope("e", 0.2, (0.12, 0.3)),
        "series_views_on_episode_minutes": slope("f", 0.15, (0.11, 0.2)),
        "quality_completion_given_plan": _r(
            "g",
            0.001,
            0.02,
            (0.015, 0.025),
            "partial_eta_squared",
            coefficients={"quality_HD": -1.0, "quality_SD": -3.0},
        ),
    }


def test_a_claim_needs_every_part_beyond_its_smallest_effect_of_interest_in_its_direction():
    # Was: every part significant and its point estimate >= MIN_EFFECT; now each part's evidence
    # verdict (CI against the SESOI) decides, and an underpowered part leaves a claim inconclusive.
    results = _seed_results()
    evidence = [
        _share("mobile_is_top_device", 0.40, (0.37, 0.43)),  # a majority for the rival
        _share("most_sessions_hd_or_4k", 0.77, (0.75, 0.79)),
    ]
    f1, f2, f3 = seed_findings.run(results, evidence)
    assert f1.verdict == NOT_SUPPORTED and "negligible" in f1.interpretation
    assert f2.verdict == SUPPORTED and f2.p_value == pytest.approx(0.001)
    assert f3.verdict == NOT_SUPPORTED
    parts = {p["claim"]: p["verdict"] for p in f3.details["parts"]}
    assert parts == {
        "mobile is the most used device": NOT_SUPPORTED,
        "most sessions are HD or 4K": SUPPORTED,
        "lower quality goes with lower completion (plan held fixed)": SUPPORTED,
    }
    wide = [
        _share("mobile_is_top_device", 0.52, (0.40, 0.64)),  # 100 sessions cannot tell
        evidence[1],
    ]
    assert seed_findings.run(results, wide)[2].verdict == INCONCLUSIVE


def test_device_evidence_tests_mobile_against_the_busiest_other_device():
    sessions = pd.DataFrame(
        {
            "device": ["Smart TV"] * 360 + ["Mobile"] * 310 + ["Desktop"] * 330,
            "quality": ["HD"] * 500 + ["4K"] * 270 + ["SD"] * 230,
        }
    )
    counts = sessions.groupby(["device", "quality"]).size().rename("n").reset_index()
    device, quality = seed_findings.device_and_quality_evidence(counts)
    assert device.details["rival"] == "Smart TV"
    assert device.p_value == pytest.approx(
        stats.binomtest(310, 670, 0.5, alternative="greater").pvalue
    )
    assert quality.effect == pytest.approx(0.77)
    assert quality.p_value == pytest.approx(
        stats.binomtest(770, 1000, 0.5, alternative="greater").pvalue
    )


# --- too little data -----------------------------------------------------------------------------


def test_too_little_data_gives_not_computed_rows_instead_of_errors(rng):
    users, sessions = _toy_sessions(rng, users=6)
    users = users.assign(
        plan="Basic", lifetime_hours=100.0, tenure_days=300.0
    )  # no Premium user at all
    sessions = sessions.assign(
        plan="Basic", content_type="movie", content_id="M001", session_id=range(len(sessions))
    )
    metrics = users.merge(
        sessions.groupby("user_id").agg(
            sessions=("watch_minutes", "size"),
            watch_minutes=("watch_minutes", "sum"),
            mean_completion=("completion", "mean"),
            share_4k=("quality", lambda q: float((q == "4K").mean())),
        ),
        left_on="user_id",
        right_index=True,
    )
    rows = {
        r.name: r for r in ht.run(_aggregates(sessions), metrics, _cells(sessions), rng, n_boot=50)
    }
    premium = rows["premium_vs_basic_mean_completion"]
    assert (
        premium.statistic is None
        and premium.verdict is None
        and "Not computed" in premium.interpretation
    )
    assert (
        rows["plan_4k_share"].details["not_computed"].startswith("the table has 1 non-empty rows")
    )
    assert (
        rows["quality_completion"].statistic is not None
    )  # session-level questions still answered
    out = clustering.run(
        metrics.assign(minutes_per_session=1.0, share_mobile=0.5, share_series=0.0), seed=1
    )
    assert out.assignments.empty and "not_computed" in out.results[0].details
    flat = correlations.correlation_result(
        np.ones(10),
        np.arange(10.0),
        method="pearson",
        name="c",
        variables="x ~ y",
        words=("x", "y"),
        level="user",
    )
    assert flat.p_value is None and flat.verdict is None
    f1, _f2, _f3 = seed_findings.run({}, [])
    assert f1.verdict == INCONCLUSIVE and "not computed" in f1.interpretation


def _aggregates(sessions: pd.DataFrame) -> SessionAggregates:
    """What data.session_aggregates returns for these sessions, by pandas."""

    def tables(column: str, key: str) -> dict[str, Freq]:
        return {
            str(k): Freq.from_sample(g[column].to_numpy(float)) for k, g in sessions.groupby(key)
        }

    days = pd.date_range(sessions["watch_date"].min(), sessions["watch_date"].max(), freq="D")
    g = sessions.groupby("watch_date")
    daily = pd.DataFrame(
        {
            "sessions": g.size(),
            "sum_minutes": g["watch_minutes"].sum(),
            "sum_completion": g["completion"].sum(),
        }
    ).reindex(days, fill_value=0)
    daily = daily.rename_axis("watch_date").reset_index()
    daily["weekday"] = [WEEKDAYS[d] for d in days.day_of_week]
    weekday = sessions.assign(weekday=[WEEKDAYS[d] for d in sessions["watch_date"].dt.day_of_week])
    return SessionAggregates(
        n=len(sessions),
        first_day=days[0].date(),
        last_day=days[-1].date(),
        frequencies={
            "completion_by_quality": tables("completion", "quality"),
            "completion_by_device": tables("completion", "device"),
            "minutes_by_weekday": {
                str(k): Freq.from_sample(v["watch_minutes"].to_numpy(float))
                for k, v in weekday.groupby("weekday")
            },
        },
        plan_quality=sessions.groupby(["plan", "quality"]).size().rename("n").reset_index(),
        device_quality=sessions.groupby(["device", "quality"]).size().rename("n").reset_index(),
        daily=daily,
        monthly_users=pd.DataFrame({"month": [], "active_users": []}),
        minutes_completion=sessions.groupby(["watch_minutes", "completion"])
        .size()
        .rename("n")
        .reset_index(),
    )


def test_repeated_result_names_are_made_unique_in_order():
    from python_models.results import unique_names

    rows = unique_names(
        [
            Result("s", "file_users.csv", "v"),
            Result("s", "x", "v"),
            Result("s", "file_users.csv", "v"),
        ]
    )
    assert [r.name for r in rows] == ["file_users.csv", "x", "file_users.csv#2"]
