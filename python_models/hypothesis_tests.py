"""Group comparisons with their assumptions checked first and the test chosen accordingly.

Every comparison reports the statistic, the p-value, an effect size with a 95 % confidence
interval, n, the assumption checks and a one-line interpretation.

How the test is chosen (the same rule for two or more groups):
- normality of each group: Shapiro–Wilk on the group (a random sample of 5,000 when larger,
  Shapiro's valid range) and, from 20 values, D'Agostino–Pearson K² on the whole group; a group
  is "normal" when no check rejects at ALPHA;
- equal variances: Levene's test centred on the median (Brown–Forsythe), robust to skew;
- all groups normal and equal variances → Student t / one-way ANOVA; normal but unequal
  variances → Welch t / Welch ANOVA; any group not normal → Mann–Whitney U / Kruskal–Wallis.
Effect sizes: Hedges g (analytic CI, Hedges & Olkin) for t tests, rank-biserial correlation
(percentile bootstrap CI) for Mann–Whitney, η² for ANOVAs, ε² = H/(n−1) for Kruskal–Wallis
(both with percentile bootstrap CIs, resampling within groups), Cramér's V for contingency
tables (bootstrap CI from multinomial resamples of the table), partial η² with the
noncentral-F interval (Steiger 2004) for an adjusted factor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats
from statsmodels.stats.oneway import anova_oneway

from python_models.results import ALPHA, MIN_GROUP_N, Result, fmt_p, insufficient

SHAPIRO_MAX_N = 5000
Z95 = float(stats.norm.ppf(0.975))


# --- assumption checks -------------------------------------------------------------------------

def normality(x: np.ndarray, rng: np.random.Generator, alpha: float = ALPHA) -> dict[str, Any]:
    """Shapiro–Wilk (on ≤ 5,000 values) and D'Agostino K² (n ≥ 20); normal unless one rejects."""
    x = np.asarray(x, dtype=float)
    out: dict[str, Any] = {"n": int(x.shape[0])}
    if x.shape[0] < 3 or np.ptp(x) == 0:
        return {**out, "normal": False, "note": "too few distinct values to check"}
    sample = x if x.shape[0] <= SHAPIRO_MAX_N else rng.choice(x, SHAPIRO_MAX_N, replace=False)
    out["shapiro_n"] = int(sample.shape[0])
    out["shapiro_w"], out["shapiro_p"] = (float(v) for v in stats.shapiro(sample))
    pvals = [out["shapiro_p"]]
    if x.shape[0] >= 20:
        out["dagostino_k2"], out["dagostino_p"] = (float(v) for v in stats.normaltest(x))
        pvals.append(out["dagostino_p"])
    out["normal"] = bool(min(pvals) >= alpha)
    return out


def equal_variances(groups: list[np.ndarray], alpha: float = ALPHA) -> dict[str, Any]:
    """Levene's test centred on the median (Brown–Forsythe variant)."""
    w, p = stats.levene(*groups, center="median")
    return {"levene_w": float(w), "levene_p": float(p), "equal": bool(p >= alpha)}


# --- effect sizes ------------------------------------------------------------------------------

def hedges_g(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Hedges g of a − b (pooled SD, small-sample correction) and its 95 % CI."""
    n1, n2 = a.shape[0], b.shape[0]
    pooled = np.sqrt(((n1 - 1) * np.var(a, ddof=1) + (n2 - 1) * np.var(b, ddof=1)) / (n1 + n2 - 2))
    d = (np.mean(a) - np.mean(b)) / pooled
    g = d * (1 - 3 / (4 * (n1 + n2) - 9))
    se = np.sqrt((n1 + n2) / (n1 * n2) + g * g / (2 * (n1 + n2)))
    return float(g), float(g - Z95 * se), float(g + Z95 * se)


def rank_biserial(a: np.ndarray, b: np.ndarray) -> float:
    """Rank-biserial correlation 2·U_a/(n1·n2) − 1: P(a > b) − P(a < b), in [−1, 1]."""
    n1, n2 = a.shape[0], b.shape[0]
    ranks = stats.rankdata(np.concatenate([a, b]))
    u_a = ranks[:n1].sum() - n1 * (n1 + 1) / 2
    return float(2 * u_a / (n1 * n2) - 1)


def eta_squared(groups: list[np.ndarray]) -> float:
    """Between-group share of the total sum of squares."""
    allx = np.concatenate(groups)
    grand = allx.mean()
    ss_between = sum(g.shape[0] * (g.mean() - grand) ** 2 for g in groups)
    ss_total = float(((allx - grand) ** 2).sum())
    return float(ss_between / ss_total) if ss_total > 0 else 0.0


def epsilon_squared(groups: list[np.ndarray]) -> float:
    """Kruskal–Wallis ε² = H / (n − 1)."""
    n = sum(g.shape[0] for g in groups)
    h = stats.kruskal(*groups).statistic
    return float(h / (n - 1))


def cramers_v(table: np.ndarray) -> float:
    """Cramér's V = sqrt(χ² / (n · (min(rows, cols) − 1))), χ² without continuity correction."""
    table = np.asarray(table, dtype=float)
    chi2 = stats.chi2_contingency(table, correction=False).statistic
    return float(np.sqrt(chi2 / (table.sum() * (min(table.shape) - 1))))


def resampled_counts(
    groups: list[np.ndarray], rng: np.random.Generator, n_boot: int,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Bootstrap resamples of each group, as counts over the distinct values of all groups.

    Drawing n_g values with replacement from a group is a multinomial draw of n_g over its
    observed value frequencies, so a resample is a row of counts: (distinct values, one (B, K)
    array per group). This makes a bootstrap O(distinct values) instead of O(rows log rows).
    """
    values, codes = np.unique(np.concatenate(groups), return_inverse=True)
    out, start = [], 0
    for g in groups:
        n_g = g.shape[0]
        freq = np.bincount(codes[start:start + n_g], minlength=values.shape[0]) / n_g
        out.append(rng.multinomial(n_g, freq, size=n_boot).astype(float))
        start += n_g
    return values, out


def kruskal_h_from_counts(counts: list[np.ndarray]) -> np.ndarray:
    """Kruskal–Wallis H (tie-corrected) of each row of per-group value counts (rows = resamples)."""
    total = sum(counts)
    n = total.sum(axis=1)
    midrank = np.cumsum(total, axis=1) - (total - 1) / 2
    rank_term = sum((c * midrank).sum(axis=1) ** 2 / c.sum(axis=1) for c in counts)
    h = 12 / (n * (n + 1)) * rank_term - 3 * (n + 1)
    ties = 1 - (total ** 3 - total).sum(axis=1) / (n ** 3 - n)
    return h / ties


def epsilon_squared_from_counts(values: np.ndarray, counts: list[np.ndarray]) -> np.ndarray:
    n = sum(counts).sum(axis=1)
    return kruskal_h_from_counts(counts) / (n - 1)


def rank_biserial_from_counts(values: np.ndarray, counts: list[np.ndarray]) -> np.ndarray:
    a, b = counts
    total = a + b
    midrank = np.cumsum(total, axis=1) - (total - 1) / 2
    n1, n2 = a.sum(axis=1), b.sum(axis=1)
    u_a = (a * midrank).sum(axis=1) - n1 * (n1 + 1) / 2
    return 2 * u_a / (n1 * n2) - 1


def eta_squared_from_counts(values: np.ndarray, counts: list[np.ndarray]) -> np.ndarray:
    total = sum(counts)
    n = total.sum(axis=1)
    grand = (total * values).sum(axis=1) / n
    ss_total = (total * (values[None, :] - grand[:, None]) ** 2).sum(axis=1)
    ss_between = sum(
        c.sum(axis=1) * ((c * values).sum(axis=1) / c.sum(axis=1) - grand) ** 2 for c in counts
    )
    return ss_between / ss_total


def bootstrap_groups(
    groups: list[np.ndarray], statistic: Callable[[np.ndarray, list[np.ndarray]], np.ndarray],
    rng: np.random.Generator, n_boot: int,
) -> tuple[float, float]:
    """Percentile 95 % CI of a statistic of value counts, resampling each group on its own."""
    values, counts = resampled_counts(groups, rng, n_boot)
    low, high = np.nanpercentile(statistic(values, counts), [2.5, 97.5])
    return float(low), float(high)


def bootstrap_table(
    table: np.ndarray, statistic: Callable[[np.ndarray], float], rng: np.random.Generator, n_boot: int,
) -> tuple[float, float]:
    """Percentile 95 % CI of a table statistic; a resample of the rows is a multinomial draw."""
    table = np.asarray(table, dtype=float)
    n = int(table.sum())
    draws = rng.multinomial(n, (table / n).ravel(), size=n_boot).reshape(n_boot, *table.shape)
    values = np.array([statistic(t) for t in draws])
    low, high = np.nanpercentile(values, [2.5, 97.5])
    return float(low), float(high)


def partial_eta_squared_ci(f: float, df1: float, df2: float, level: float = 0.95) -> tuple[float, float]:
    """CI of partial η² by inverting the noncentral F distribution (Steiger 2004)."""
    tail = (1 - level) / 2

    def bound(target: float) -> float:
        # The noncentrality λ at which F is the `target` quantile; 0 when even λ = 0 is too large.
        fn = lambda lam: stats.ncf.cdf(f, df1, df2, lam) - target  # noqa: E731
        if fn(0.0) < 0:
            return 0.0
        hi = max(10.0, f * df1 * 4)
        while fn(hi) > 0:
            hi *= 2
        return float(optimize.brentq(fn, 0.0, hi))

    lam_low, lam_high = bound(1 - tail), bound(tail)
    to_eta = lambda lam: lam / (lam + df1 + df2 + 1)  # noqa: E731
    return to_eta(lam_low), to_eta(lam_high)


# --- comparisons -------------------------------------------------------------------------------

def _summary(values: np.ndarray) -> dict[str, float | int]:
    return {
        "n": int(values.shape[0]), "mean": float(np.mean(values)), "median": float(np.median(values)),
        "sd": float(np.std(values, ddof=1)) if values.shape[0] > 1 else None,
    }


def _direction(effect: float, low: float, high: float) -> str:
    if low > 0:
        return "higher"
    if high < 0:
        return "lower"
    return "not clearly different"


def compare_two(
    a: np.ndarray, b: np.ndarray, *, name: str, variables: str, label_a: str, label_b: str,
    measure: str, rng: np.random.Generator, n_boot: int = 1000, alpha: float = ALPHA,
    section: str = "hypothesis",
) -> Result:
    """Two independent groups: t test (Student or Welch) or Mann–Whitney U, two-sided."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if min(a.shape[0], b.shape[0]) < MIN_GROUP_N or np.ptp(np.concatenate([a, b])) == 0:
        return insufficient(section, name, variables, int(a.shape[0] + b.shape[0]),
                            f"{label_a} has {a.shape[0]} and {label_b} {b.shape[0]} values (at least "
                            f"{MIN_GROUP_N} each, not all equal, are needed)")
    checks = {label_a: normality(a, rng, alpha), label_b: normality(b, rng, alpha)}
    variance = equal_variances([a, b], alpha)
    all_normal = all(c["normal"] for c in checks.values())
    g, g_low, g_high = hedges_g(a, b)
    details: dict[str, Any] = {
        "groups": {label_a: _summary(a), label_b: _summary(b)},
        "normality": checks, "variance": variance, "alpha": alpha,
        "hedges_g": {"value": g, "ci_low": g_low, "ci_high": g_high},
    }
    if all_normal:
        welch = not variance["equal"]
        t = stats.ttest_ind(a, b, equal_var=not welch)
        test = "Welch t test" if welch else "Student t test"
        stat_name, stat, p = "t", float(t.statistic), float(t.pvalue)
        effect_name, effect, low, high = "hedges_g", g, g_low, g_high
        details["df"] = float(t.df)
        centre = f"mean {np.mean(a):.1f} vs {np.mean(b):.1f}"
    else:
        mw = stats.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic")
        test = "Mann-Whitney U test"
        stat_name, stat, p = "U", float(mw.statistic), float(mw.pvalue)
        effect_name, effect = "rank_biserial", rank_biserial(a, b)
        low, high = bootstrap_groups([a, b], rank_biserial_from_counts, rng, n_boot)
        details["n_boot"] = n_boot
        centre = f"median {np.median(a):.1f} vs {np.median(b):.1f}"
    details["test"] = test
    details["why"] = _why(all_normal, variance["equal"], two=True)
    words = _direction(effect, low, high)
    interpretation = (
        f"{measure}: {label_a} {words} than {label_b} ({centre}; {effect_name} {effect:.2f}, "
        f"95% CI [{low:.2f}, {high:.2f}]; {test}, {fmt_p(p)})."
    ) if words != "not clearly different" else (
        f"{measure}: {label_a} and {label_b} are not clearly different ({centre}; {effect_name} "
        f"{effect:.2f}, 95% CI [{low:.2f}, {high:.2f}]; {test}, {fmt_p(p)})."
    )
    return Result(
        section=section, name=name, variables=variables, statistic_name=stat_name, statistic=stat,
        p_value=p, effect_name=effect_name, effect=effect, ci_low=low, ci_high=high,
        n=int(a.shape[0] + b.shape[0]), interpretation=interpretation, details=details,
    )


def _why(all_normal: bool, equal: bool, two: bool) -> str:
    parametric = ("Student t test", "Welch t test") if two else ("one-way ANOVA", "Welch ANOVA")
    rank = "Mann-Whitney U test" if two else "Kruskal-Wallis test"
    if not all_normal:
        return f"at least one group is not normal, so the rank-based {rank}"
    return f"all groups normal and variances {'equal' if equal else 'unequal'}, so the " \
        f"{parametric[0] if equal else parametric[1]}"


def compare_many(
    groups: Mapping[str, np.ndarray], *, name: str, variables: str, measure: str,
    rng: np.random.Generator, n_boot: int = 1000, alpha: float = ALPHA, section: str = "hypothesis",
) -> Result:
    """Two or more independent groups: one-way ANOVA, Welch ANOVA or Kruskal–Wallis."""
    labels = [k for k in groups if np.asarray(groups[k]).shape[0] >= MIN_GROUP_N]
    data = [np.asarray(groups[k], dtype=float) for k in labels]
    if len(data) < 2 or np.ptp(np.concatenate(data)) == 0:
        return insufficient(section, name, variables, int(sum(x.shape[0] for x in data)),
                            f"fewer than two groups with at least {MIN_GROUP_N} values, or no variation")
    checks = {k: normality(x, rng, alpha) for k, x in zip(labels, data)}
    variance = equal_variances(data, alpha)
    all_normal = all(c["normal"] for c in checks.values())
    details: dict[str, Any] = {
        "groups": {k: _summary(x) for k, x in zip(labels, data)},
        "normality": checks, "variance": variance, "alpha": alpha, "n_boot": n_boot,
    }
    if all_normal:
        welch = not variance["equal"]
        res = anova_oneway(data, use_var="unequal" if welch else "equal")
        test = "Welch ANOVA" if welch else "one-way ANOVA"
        stat_name, stat, p = "F", float(res.statistic), float(res.pvalue)
        details["df"] = [float(res.df_num), float(res.df_denom)]
        effect_name, effect, effect_fn = "eta_squared", eta_squared(data), eta_squared_from_counts
        centre_key = "mean"
    else:
        kw = stats.kruskal(*data)
        test = "Kruskal-Wallis test"
        stat_name, stat, p = "H", float(kw.statistic), float(kw.pvalue)
        details["df"] = [len(data) - 1]
        effect_name, effect, effect_fn = "epsilon_squared", epsilon_squared(data), epsilon_squared_from_counts
        centre_key = "median"
    low, high = bootstrap_groups(data, effect_fn, rng, n_boot)
    details["test"] = test
    details["why"] = _why(all_normal, variance["equal"], two=False)
    ordered = sorted(details["groups"].items(), key=lambda kv: kv[1][centre_key])
    ladder = " < ".join(f"{k} {v[centre_key]:.1f}" for k, v in ordered)
    interpretation = (
        f"{measure} by group: {centre_key}s {ladder} ({effect_name} {effect:.3f}, "
        f"95% CI [{low:.3f}, {high:.3f}]; {test}, {fmt_p(p)})."
    )
    return Result(
        section=section, name=name, variables=variables, statistic_name=stat_name, statistic=stat,
        p_value=p, effect_name=effect_name, effect=effect, ci_low=low, ci_high=high,
        n=int(sum(x.shape[0] for x in data)), interpretation=interpretation, details=details,
    )


def association(
    table: pd.DataFrame, *, name: str, variables: str, measure: str, rng: np.random.Generator,
    n_boot: int = 1000, alpha: float = ALPHA, section: str = "hypothesis",
) -> Result:
    """Chi-square test of independence on a contingency table (Fisher exact for a sparse 2×2)."""
    table = table.loc[table.sum(axis=1) > 0, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return insufficient(section, name, variables, int(table.to_numpy().sum()),
                            f"the table has {table.shape[0]} non-empty rows and {table.shape[1]} columns")
    counts = table.to_numpy(dtype=float)
    expected = stats.contingency.expected_freq(counts)
    sparse = bool((expected < 5).any())
    details: dict[str, Any] = {
        "table": {str(r): {str(c): int(v) for c, v in row.items()} for r, row in table.iterrows()},
        "row_shares": {
            str(r): {str(c): float(v) for c, v in row.items()}
            for r, row in table.div(table.sum(axis=1), axis=0).iterrows()
        },
        "min_expected": float(expected.min()), "alpha": alpha, "n_boot": n_boot,
    }
    if sparse and counts.shape == (2, 2):
        test, stat_name = "Fisher exact test", "odds_ratio"
        fisher = stats.fisher_exact(counts)
        stat, p = float(fisher.statistic), float(fisher.pvalue)
    else:
        chi = stats.chi2_contingency(counts, correction=False)
        test, stat_name, stat, p = "chi-square test of independence", "chi2", float(chi.statistic), float(chi.pvalue)
        details["df"] = int(chi.dof)
        if sparse:
            details["warning"] = "some expected counts are below 5: the chi-square p-value is approximate"
    effect = cramers_v(counts)
    low, high = bootstrap_table(counts, cramers_v, rng, n_boot)
    # The share of the first column within each row (e.g. the 4K share of each plan).
    shares = {str(r): float(v) for r, v in (table.iloc[:, 0] / table.sum(axis=1)).items()}
    details["first_column"] = str(table.columns[0])
    details["test"] = test
    interpretation = (
        f"{measure}: " + ", ".join(f"{r} {v:.1%}" for r, v in shares.items())
        + f" (Cramér's V {effect:.3f}, 95% CI [{low:.3f}, {high:.3f}]; {test}, {fmt_p(p)})."
    )
    return Result(
        section=section, name=name, variables=variables, statistic_name=stat_name, statistic=stat,
        p_value=p, effect_name="cramers_v", effect=effect, ci_low=low, ci_high=high,
        n=int(counts.sum()), interpretation=interpretation, details=details,
    )


def _dummies(values: pd.Series, prefix: str) -> pd.DataFrame:
    # Treatment coding: the first level in sorted order is the reference.
    return pd.get_dummies(values.astype("category"), prefix=prefix, drop_first=True, dtype=float)


def adjusted_factor(
    frame: pd.DataFrame, *, outcome: str, factor: str, adjust_for: str, cluster: str | None,
    name: str, variables: str, measure: str, alpha: float = ALPHA, section: str = "hypothesis",
) -> Result:
    """Does `factor` explain `outcome` once `adjust_for` is accounted for? (additive OLS)

    The p-value is the Wald F test of the factor's terms with standard errors clustered on
    `cluster` (rows of one user are not independent); the effect is the factor's partial η²
    (type II sums of squares) with the noncentral-F interval of the classical F, which ignores
    that clustering.
    """
    import statsmodels.api as sm

    if frame[factor].nunique() < 2 or frame.shape[0] < frame[factor].nunique() + frame[adjust_for].nunique() + 2:
        return insufficient(section, name, variables, int(frame.shape[0]),
                            f"{factor} has {frame[factor].nunique()} levels in {frame.shape[0]} rows")
    y = frame[outcome].to_numpy(dtype=float)
    f_cols = _dummies(frame[factor], factor)
    a_cols = _dummies(frame[adjust_for], adjust_for)
    full_x = sm.add_constant(pd.concat([f_cols, a_cols], axis=1))
    reduced_x = sm.add_constant(a_cols)
    full = sm.OLS(y, full_x).fit()
    reduced = sm.OLS(y, reduced_x).fit()
    ss_factor = float(reduced.ssr - full.ssr)
    df1, df2 = float(f_cols.shape[1]), float(full.df_resid)
    f_classic = (ss_factor / df1) / (full.ssr / df2)
    classic_p = float(stats.f.sf(f_classic, df1, df2))
    effect = ss_factor / (ss_factor + full.ssr)
    low, high = partial_eta_squared_ci(f_classic, df1, df2)
    terms = list(f_cols.columns)
    details: dict[str, Any] = {
        "model": f"{outcome} ~ {factor} + {adjust_for} (OLS, treatment coding)",
        "classic_f": f_classic, "classic_p": classic_p, "df": [df1, df2], "alpha": alpha,
        "coefficients": {t: float(full.params[t]) for t in terms},
    }
    if cluster is not None:
        groups = pd.factorize(frame[cluster])[0]
        robust = sm.OLS(y, full_x).fit(cov_type="cluster", cov_kwds={"groups": groups})
        restriction = np.zeros((len(terms), full_x.shape[1]))
        for i, t in enumerate(terms):
            restriction[i, list(full_x.columns).index(t)] = 1.0
        wald = robust.f_test(restriction)
        stat, p = float(np.squeeze(wald.fvalue)), float(wald.pvalue)
        details["test"] = f"Wald F test, standard errors clustered by {cluster}"
        details["clusters"] = int(groups.max() + 1)
    else:
        stat, p = f_classic, classic_p
        details["test"] = "type II ANOVA F test"
    interpretation = (
        f"{measure} by {factor}, holding {adjust_for} fixed: "
        f"partial eta² {effect:.4f}, 95% CI [{low:.4f}, {high:.4f}]; {details['test']}, {fmt_p(p)}."
    )
    return Result(
        section=section, name=name, variables=variables, statistic_name="F", statistic=stat, p_value=p,
        effect_name="partial_eta_squared", effect=effect, ci_low=low, ci_high=high, n=int(full.nobs),
        interpretation=interpretation, details=details,
    )


# --- the questions the course asks -------------------------------------------------------------

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _by(frame: pd.DataFrame, column: str, key: str, order: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    groups = {str(k): g[column].dropna().to_numpy(dtype=float) for k, g in frame.groupby(key, observed=True)}
    keys = [k for k in (order or sorted(groups)) if k in groups]
    return {k: groups[k] for k in keys}


def daily_sessions(sessions: pd.DataFrame) -> pd.DataFrame:
    """Sessions per calendar day over the whole log (days without sessions count 0), with weekday."""
    counts = sessions.groupby("watch_date").size()
    days = pd.date_range(counts.index.min(), counts.index.max(), freq="D")
    daily = counts.reindex(days, fill_value=0).rename("sessions").to_frame()
    daily["weekday"] = [WEEKDAYS[d] for d in days.day_of_week]
    return daily.rename_axis("watch_date").reset_index()


def run(
    sessions: pd.DataFrame, users: pd.DataFrame, rng: np.random.Generator,
    n_boot: int = 1000,
) -> list[Result]:
    """Premium vs Basic engagement, plan → 4K, completion by quality and device, weekday effect.

    `sessions` is data.sessions_with_context, `users` data.user_metrics. Per-user questions use
    one value per user (the unit that chose the plan); session-level ones use every session.
    Verdicts are set afterwards from the Holm-adjusted p-values of the whole family.
    """
    premium, basic = users[users["plan"] == "Premium"], users[users["plan"] == "Basic"]
    out: list[Result] = []
    for column, measure in (
        ("watch_minutes", "Watch minutes per user (session log)"),
        ("mean_completion", "Mean completion per user"),
        ("lifetime_hours", "Lifetime watch hours"),
        ("share_4k", "Share of a user's sessions in 4K"),
    ):
        out.append(compare_two(
            premium[column].dropna().to_numpy(), basic[column].dropna().to_numpy(),
            name=f"premium_vs_basic_{column}", variables=f"{column} ~ plan (Premium vs Basic)",
            label_a="Premium", label_b="Basic", measure=measure, rng=rng, n_boot=n_boot,
        ))
    out.append(compare_many(
        _by(users, "mean_completion", "plan", ("Basic", "Standard", "Premium")),
        name="plan_mean_completion", variables="mean_completion ~ plan", measure="Mean completion per user",
        rng=rng, n_boot=n_boot,
    ))
    is_4k = pd.Categorical(np.where(sessions["quality"] == "4K", "4K", "other"), categories=["4K", "other"])
    table = pd.crosstab(sessions["plan"], is_4k).reindex(["Basic", "Standard", "Premium"]).dropna()
    chi = association(
        table, name="plan_4k_share", variables="quality is 4K ~ plan (sessions)",
        measure="Share of sessions streamed in 4K by plan", rng=rng, n_boot=n_boot,
    )
    # Sessions of one user share a plan: the per-user test premium_vs_basic_share_4k does not
    # lean on independent sessions and should agree.
    out.append(chi.with_(details={**chi.details, "caveat": "sessions of one user are not independent; "
                                  "see premium_vs_basic_share_4k for the per-user test"}))
    out.append(compare_many(
        _by(sessions, "completion", "quality", ("SD", "HD", "4K")), name="quality_completion",
        variables="completion ~ quality_level (sessions)", measure="Completion per session",
        rng=rng, n_boot=n_boot,
    ))
    out.append(adjusted_factor(
        sessions[["completion", "quality", "plan", "user_id"]], outcome="completion", factor="quality",
        adjust_for="plan", cluster="user_id", name="quality_completion_given_plan",
        variables="completion ~ quality_level + plan (sessions)", measure="Completion per session",
    ))
    out.append(compare_many(
        _by(sessions, "completion", "device"), name="device_completion",
        variables="completion ~ device_type (sessions)", measure="Completion per session",
        rng=rng, n_boot=n_boot,
    ))
    daily = daily_sessions(sessions)
    out.append(compare_many(
        _by(daily, "sessions", "weekday", WEEKDAYS), name="weekday_daily_sessions",
        variables="sessions per day ~ weekday", measure="Sessions per day", rng=rng, n_boot=n_boot,
    ))
    out.append(compare_many(
        _by(sessions.assign(weekday=[WEEKDAYS[d] for d in sessions["watch_date"].dt.day_of_week]),
            "watch_minutes", "weekday", WEEKDAYS),
        name="weekday_watch_minutes", variables="watch_minutes ~ weekday (sessions)",
        measure="Watch minutes per session", rng=rng, n_boot=n_boot,
    ))
    return out
