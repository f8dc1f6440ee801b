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

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats
from statsmodels.stats.oneway import anova_generic

from python_models import clustered
from python_models.data import PLANS, QUALITY_ORDER, WEEKDAYS, SessionAggregates, UserSessionGroups
from python_models.frequencies import Freq, common_counts, dagostino_k2, levene_median
from python_models.results import ALPHA, MIN_GROUP_N, Result, fmt_p, insufficient

SHAPIRO_MAX_N = 5000
Z95 = float(stats.norm.ppf(0.975))


# --- assumption checks -------------------------------------------------------------------------


def normality(
    x: np.ndarray | Freq, rng: np.random.Generator, alpha: float = ALPHA
) -> dict[str, Any]:
    """Shapiro–Wilk (on ≤ 5,000 values) and D'Agostino K² (n ≥ 20); normal unless one rejects."""
    f = x if isinstance(x, Freq) else Freq.from_sample(x)
    out: dict[str, Any] = {"n": f.n}
    if f.n < 3 or f.values.shape[0] < 2:
        return {**out, "normal": False, "note": "too few distinct values to check"}
    sample = f.sample(SHAPIRO_MAX_N, rng) if f.n > SHAPIRO_MAX_N else f.order_stat(np.arange(f.n))
    out["shapiro_n"] = int(sample.shape[0])
    out["shapiro_w"], out["shapiro_p"] = (float(v) for v in stats.shapiro(sample))
    pvals = [out["shapiro_p"]]
    if f.n >= 20:
        out["dagostino_k2"], out["dagostino_p"] = dagostino_k2(f)
        pvals.append(out["dagostino_p"])
    out["normal"] = bool(min(pvals) >= alpha)
    return out


def equal_variances(groups: list[np.ndarray] | list[Freq], alpha: float = ALPHA) -> dict[str, Any]:
    """Levene's test centred on the median (Brown–Forsythe variant)."""
    w, p = levene_median([g if isinstance(g, Freq) else Freq.from_sample(g) for g in groups])
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


# Bootstrap resamples are drawn and evaluated in blocks of at most this many counts (resamples ×
# distinct values), so memory stays small when a group has many distinct values (per-user means).
BOOT_BLOCK_CELLS = 250_000
# A group with fewer than this many rows per distinct value is resampled by drawing row indices
# (O(rows) per resample); otherwise as one multinomial over its values (O(distinct values)).
INDEX_DRAW_ROWS_PER_VALUE = 10


def _resample_block(
    n: int, codes: np.ndarray | None, freq: np.ndarray, k: int, size: int, rng: np.random.Generator
) -> np.ndarray:
    """`size` bootstrap resamples of n rows as counts over k values (each row ~ multinomial(n, freq))."""
    if codes is None:
        return rng.multinomial(n, freq, size=size).astype(float)
    picks = codes[rng.integers(0, n, size=(size, n))]
    picks += k * np.arange(size)[:, None]  # in place: one (size, n) array, not two
    return np.bincount(picks.ravel(), minlength=size * k).reshape(size, k).astype(float)


def resampled_counts(
    groups: list[np.ndarray] | list[Freq],
    rng: np.random.Generator,
    n_boot: int,
) -> Iterator[tuple[np.ndarray, list[np.ndarray]]]:
    """Bootstrap resamples of each group, as counts over the distinct values of all groups.

    Drawing n_g values with replacement from a group is a multinomial draw of n_g over its
    observed value frequencies, so a resample is a row of counts: yields (distinct values, one
    (b, K) array per group) for consecutive blocks of b resamples, n_boot in all. A group with
    many rows per value is drawn as that multinomial (O(distinct values) per resample, whatever
    the rows); a group with mostly distinct values (per-user means) by drawing row indices,
    which gives the same distribution faster. Memory is bounded by BOOT_BLOCK_CELLS.
    """
    tables = [g if isinstance(g, Freq) else Freq.from_sample(g) for g in groups]
    values, counts = common_counts(tables)
    k = values.shape[0]
    freqs = [c[0] / t.n for t, c in zip(tables, counts)]
    codes = [
        np.repeat(np.searchsorted(values, t.values), t.counts)
        if t.n < INDEX_DRAW_ROWS_PER_VALUE * t.values.shape[0]
        else None
        for t in tables
    ]
    block = max(
        1, BOOT_BLOCK_CELLS // max([k, *(t.n for t, c in zip(tables, codes) if c is not None)])
    )
    for start in range(0, n_boot, block):
        size = min(block, n_boot - start)
        yield (
            values,
            [_resample_block(t.n, c, f, k, size, rng) for t, c, f in zip(tables, codes, freqs)],
        )


def kruskal_h_from_counts(counts: list[np.ndarray]) -> np.ndarray:
    """Kruskal–Wallis H (tie-corrected) of each row of per-group value counts (rows = resamples)."""
    total = sum(counts)
    n = total.sum(axis=1)
    midrank = np.cumsum(total, axis=1) - (total - 1) / 2
    rank_term = sum((c * midrank).sum(axis=1) ** 2 / c.sum(axis=1) for c in counts)
    h = 12 / (n * (n + 1)) * rank_term - 3 * (n + 1)
    # Counts whose cubes are below 2**53 are cubed by two exact products instead of a pow() per
    # cell (the same numbers); larger ones keep pow(), whose rounding products would not repeat.
    cubes = total * total * total if float(total.max(initial=0.0)) ** 3 < 2.0**53 else total**3
    ties = 1 - (cubes - total).sum(axis=1) / (n**3 - n)
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
    groups: list[np.ndarray] | list[Freq],
    statistic: Callable[[np.ndarray, list[np.ndarray]], np.ndarray],
    rng: np.random.Generator,
    n_boot: int,
) -> tuple[float, float]:
    """Percentile 95 % CI of a statistic of value counts, resampling each group on its own."""
    draws = np.concatenate(
        [statistic(values, counts) for values, counts in resampled_counts(groups, rng, n_boot)]
    )
    low, high = np.nanpercentile(draws, [2.5, 97.5])
    return float(low), float(high)


def bootstrap_table(
    table: np.ndarray,
    statistic: Callable[[np.ndarray], float],
    rng: np.random.Generator,
    n_boot: int,
) -> tuple[float, float]:
    """Percentile 95 % CI of a table statistic; a resample of the rows is a multinomial draw."""
    table = np.asarray(table, dtype=float)
    n = int(table.sum())
    draws = rng.multinomial(n, (table / n).ravel(), size=n_boot).reshape(n_boot, *table.shape)
    values = np.array([statistic(t) for t in draws])
    low, high = np.nanpercentile(values, [2.5, 97.5])
    return float(low), float(high)


def partial_eta_squared_ci(
    f: float, df1: float, df2: float, level: float = 0.95
) -> tuple[float, float]:
    """CI of partial η² by inverting the noncentral F distribution (Steiger 2004)."""
    tail = (1 - level) / 2

    def bound(target: float) -> float:
        # The noncentrality λ at which F is the `target` quantile; 0 when even λ = 0 is too large.
        fn = lambda lam: stats.ncf.cdf(f, df1, df2, lam) - target
        if fn(0.0) < 0:
            return 0.0
        hi = max(10.0, f * df1 * 4)
        while fn(hi) > 0:
            hi *= 2
        return float(optimize.brentq(fn, 0.0, hi))

    lam_low, lam_high = bound(1 - tail), bound(tail)
    to_eta = lambda lam: lam / (lam + df1 + df2 + 1)
    return to_eta(lam_low), to_eta(lam_high)


# --- comparisons -------------------------------------------------------------------------------


def _summary(values: np.ndarray | Freq) -> dict[str, float | int]:
    f = values if isinstance(values, Freq) else Freq.from_sample(values)
    return {"n": f.n, "mean": f.mean(), "median": f.median(), "sd": f.sd() if f.n > 1 else None}


def compare_two(
    a: np.ndarray,
    b: np.ndarray,
    *,
    name: str,
    variables: str,
    label_a: str,
    label_b: str,
    measure: str,
    rng: np.random.Generator,
    n_boot: int = 1000,
    alpha: float = ALPHA,
    section: str = "hypothesis",
) -> Result:
    """Two independent groups: t test (Student or Welch) or Mann–Whitney U, two-sided."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if min(a.shape[0], b.shape[0]) < MIN_GROUP_N or np.ptp(np.concatenate([a, b])) == 0:
        return insufficient(
            section,
            name,
            variables,
            int(a.shape[0] + b.shape[0]),
            f"{label_a} has {a.shape[0]} and {label_b} {b.shape[0]} values (at least "
            f"{MIN_GROUP_N} each, not all equal, are needed)",
        )
    checks = {label_a: normality(a, rng, alpha), label_b: normality(b, rng, alpha)}
    variance = equal_variances([a, b], alpha)
    all_normal = all(c["normal"] for c in checks.values())
    g, g_low, g_high = hedges_g(a, b)
    details: dict[str, Any] = {
        "groups": {label_a: _summary(a), label_b: _summary(b)},
        "normality": checks,
        "variance": variance,
        "alpha": alpha,
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
    # Neutral here: the verdict (results.judge) says whether the difference is one of interest.
    interpretation = (
        f"{measure}: {label_a} vs {label_b} ({centre}; {effect_name} {effect:.2f}, "
        f"95% CI [{low:.2f}, {high:.2f}]; {test}, {fmt_p(p)})."
    )
    return Result(
        section=section,
        name=name,
        variables=variables,
        statistic_name=stat_name,
        statistic=stat,
        p_value=p,
        effect_name=effect_name,
        effect=effect,
        ci_low=low,
        ci_high=high,
        n=int(a.shape[0] + b.shape[0]),
        interpretation=interpretation,
        details=details,
    )


def _why(all_normal: bool, equal: bool, two: bool) -> str:
    parametric = ("Student t test", "Welch t test") if two else ("one-way ANOVA", "Welch ANOVA")
    rank = "Mann-Whitney U test" if two else "Kruskal-Wallis test"
    if not all_normal:
        return f"at least one group is not normal, so the rank-based {rank}"
    return (
        f"all groups normal and variances {'equal' if equal else 'unequal'}, so the "
        f"{parametric[0] if equal else parametric[1]}"
    )


def compare_many(
    groups: Mapping[str, np.ndarray | Freq],
    *,
    name: str,
    variables: str,
    measure: str,
    rng: np.random.Generator,
    n_boot: int = 1000,
    alpha: float = ALPHA,
    section: str = "hypothesis",
) -> Result:
    """Two or more independent groups: one-way ANOVA, Welch ANOVA or Kruskal–Wallis.

    A group is its values or their frequency table (frequencies.Freq); both give the same result.
    """
    tables = {k: g if isinstance(g, Freq) else Freq.from_sample(g) for k, g in groups.items()}
    labels = [k for k, t in tables.items() if t.n >= MIN_GROUP_N]
    data = [tables[k] for k in labels]
    if len(data) < 2 or np.unique(np.concatenate([t.values for t in data])).shape[0] < 2:
        return insufficient(
            section,
            name,
            variables,
            int(sum(t.n for t in data)),
            f"fewer than two groups with at least {MIN_GROUP_N} values, or no variation",
        )
    checks = {k: normality(t, rng, alpha) for k, t in zip(labels, data)}
    variance = equal_variances(data, alpha)
    all_normal = all(c["normal"] for c in checks.values())
    details: dict[str, Any] = {
        "groups": {k: _summary(t) for k, t in zip(labels, data)},
        "normality": checks,
        "variance": variance,
        "alpha": alpha,
        "n_boot": n_boot,
    }
    values, counts = common_counts(data)
    n_total = sum(t.n for t in data)
    if all_normal:
        welch = not variance["equal"]
        res = anova_generic(
            np.array([t.mean() for t in data]),
            np.array([t.var(ddof=1) for t in data]),
            np.array([t.n for t in data], dtype=float),
            use_var="unequal" if welch else "equal",
        )
        test = "Welch ANOVA" if welch else "one-way ANOVA"
        stat_name, stat, p = "F", float(res.statistic), float(res.pvalue)
        details["df"] = [float(res.df_num), float(res.df_denom)]
        effect_name, effect_fn = "eta_squared", eta_squared_from_counts
        centre_key = "mean"
    else:
        h = float(kruskal_h_from_counts(counts)[0])
        test = "Kruskal-Wallis test"
        stat_name, stat, p = "H", h, float(stats.chi2.sf(h, len(data) - 1))
        details["df"] = [len(data) - 1]
        effect_name, effect_fn = "epsilon_squared", epsilon_squared_from_counts
        centre_key = "median"
    effect = float(effect_fn(values, counts)[0])
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
        section=section,
        name=name,
        variables=variables,
        statistic_name=stat_name,
        statistic=stat,
        p_value=p,
        effect_name=effect_name,
        effect=effect,
        ci_low=low,
        ci_high=high,
        n=int(n_total),
        interpretation=interpretation,
        details=details,
    )


def association(
    table: pd.DataFrame,
    *,
    name: str,
    variables: str,
    measure: str,
    rng: np.random.Generator,
    n_boot: int = 1000,
    alpha: float = ALPHA,
    section: str = "hypothesis",
) -> Result:
    """Chi-square test of independence on a contingency table (Fisher exact for a sparse 2×2)."""
    table = table.loc[table.sum(axis=1) > 0, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return insufficient(
            section,
            name,
            variables,
            int(table.to_numpy().sum()),
            f"the table has {table.shape[0]} non-empty rows and {table.shape[1]} columns",
        )
    counts = table.to_numpy(dtype=float)
    expected = stats.contingency.expected_freq(counts)
    sparse = bool((expected < 5).any())
    details: dict[str, Any] = {
        "table": {str(r): {str(c): int(v) for c, v in row.items()} for r, row in table.iterrows()},
        "row_shares": {
            str(r): {str(c): float(v) for c, v in row.items()}
            for r, row in table.div(table.sum(axis=1), axis=0).iterrows()
        },
        "min_expected": float(expected.min()),
        "alpha": alpha,
        "n_boot": n_boot,
    }
    if sparse and counts.shape == (2, 2):
        test, stat_name = "Fisher exact test", "odds_ratio"
        fisher = stats.fisher_exact(counts)
        stat, p = float(fisher.statistic), float(fisher.pvalue)
    else:
        chi = stats.chi2_contingency(counts, correction=False)
        test, stat_name, stat, p = (
            "chi-square test of independence",
            "chi2",
            float(chi.statistic),
            float(chi.pvalue),
        )
        details["df"] = int(chi.dof)
        if sparse:
            details["warning"] = (
                "some expected counts are below 5: the chi-square p-value is approximate"
            )
    effect = cramers_v(counts)
    low, high = bootstrap_table(counts, cramers_v, rng, n_boot)
    # The share of the first column within each row (e.g. the 4K share of each plan).
    shares = {str(r): float(v) for r, v in (table.iloc[:, 0] / table.sum(axis=1)).items()}
    details["first_column"] = str(table.columns[0])
    details["test"] = test
    interpretation = (
        f"{measure}: "
        + ", ".join(f"{r} {v:.1%}" for r, v in shares.items())
        + f" (Cramér's V {effect:.3f}, 95% CI [{low:.3f}, {high:.3f}]; {test}, {fmt_p(p)})."
    )
    return Result(
        section=section,
        name=name,
        variables=variables,
        statistic_name=stat_name,
        statistic=stat,
        p_value=p,
        effect_name="cramers_v",
        effect=effect,
        ci_low=low,
        ci_high=high,
        n=int(counts.sum()),
        interpretation=interpretation,
        details=details,
    )


def _treatment(levels: pd.Series, prefix: str) -> tuple[np.ndarray, list[str]]:
    # Treatment coding: the first level in sorted order is the reference.
    names = sorted(levels.dropna().unique())
    return (
        np.column_stack([(levels == v).to_numpy(dtype=float) for v in names[1:]])
        if len(names) > 1
        else np.zeros((levels.shape[0], 0))
    ), [f"{prefix}_{v}" for v in names[1:]]


def adjusted_factor(
    cells: pd.DataFrame,
    *,
    factor: str,
    adjust_for: str,
    name: str,
    variables: str,
    measure: str,
    alpha: float = ALPHA,
    section: str = "hypothesis",
    rng: np.random.Generator | None = None,
    n_boot: int = 0,
) -> Result:
    """Does `factor` explain an outcome once `adjust_for` is accounted for? (additive OLS)

    `cells` holds the outcome's sufficient statistics per cluster × factor × adjust_for level:
    columns cluster (an integer id; rows of one cluster are not independent), `factor`,
    `adjust_for`, n, sum_y and ss_y (the within-cell sum of squared deviations). With only
    categorical regressors every row of a cell has the same fitted value, so the least-squares
    fit, its sums of squares and the cluster-robust covariance follow exactly from them.

    The p-value is the Wald F test of the factor's terms with standard errors clustered on
    `cluster` (CR1, as statsmodels' cov_type="cluster": small-sample factor G/(G−1)·(N−1)/(N−K),
    G − 1 denominator degrees of freedom); the effect is the factor's partial η² (type II sums
    of squares). Its 95 % CI is a user-level cluster bootstrap when `rng` and `n_boot` are given
    (partial_eta_squared_cluster_ci), else the noncentral-F interval of the classical F, which
    ignores the clustering (kept in details either way).
    """
    keys = [factor, adjust_for]
    by_cell = (
        cells.groupby(keys, sort=True).agg(n=("n", "sum"), sum_y=("sum_y", "sum")).reset_index()
    )
    n_factor, n_adjust = by_cell[factor].nunique(), by_cell[adjust_for].nunique()
    nobs = int(by_cell["n"].sum())
    if n_factor < 2 or nobs < n_factor + n_adjust + 2:
        return insufficient(
            section, name, variables, nobs, f"{factor} has {n_factor} levels in {nobs} rows"
        )
    f_x, f_names = _treatment(by_cell[factor], factor)
    a_x, _ = _treatment(by_cell[adjust_for], adjust_for)
    w = by_cell["n"].to_numpy(dtype=float)
    mean = by_cell["sum_y"].to_numpy(dtype=float) / w
    # Within-cell sum of squares: the clusters' own plus their means' spread around the cell mean.
    cell_of = cells.merge(by_cell[keys].assign(cell=np.arange(by_cell.shape[0])), on=keys)
    cluster_mean = cell_of["sum_y"].to_numpy(dtype=float) / cell_of["n"].to_numpy(dtype=float)
    spread = (
        cell_of["ss_y"].to_numpy(dtype=float)
        + cell_of["n"].to_numpy(dtype=float)
        * (cluster_mean - mean[cell_of["cell"].to_numpy()]) ** 2
    )
    ss_within = float(spread.sum())

    def fit(x: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        xtx = x.T @ (x * w[:, None])
        beta = np.linalg.solve(xtx, x.T @ (w * mean))
        return beta, ss_within + float((w * (mean - x @ beta) ** 2).sum()), xtx

    full_x = np.column_stack([np.ones(w.shape[0]), f_x, a_x])
    beta, ssr_full, xtx = fit(full_x)
    _, ssr_reduced, _ = fit(np.column_stack([np.ones(w.shape[0]), a_x]))
    ss_factor = ssr_reduced - ssr_full
    df1, df2 = float(f_x.shape[1]), float(nobs - full_x.shape[1])
    f_classic = (ss_factor / df1) / (ssr_full / df2)
    classic_p = float(stats.f.sf(f_classic, df1, df2))
    effect = ss_factor / (ss_factor + ssr_full)
    low, high = partial_eta_squared_ci(f_classic, df1, df2)
    classic_ci = [low, high]
    if rng is not None and n_boot > 0:
        low, high = partial_eta_squared_cluster_ci(cells, factor, adjust_for, rng, n_boot)
    details: dict[str, Any] = {
        "model": f"outcome ~ {factor} + {adjust_for} (OLS, treatment coding)",
        "classic_f": f_classic,
        "classic_p": classic_p,
        "classic_ci": classic_ci,
        "ci": "user-level cluster bootstrap, 95%"
        if rng is not None and n_boot > 0
        else "noncentral F (Steiger 2004), 95%",
        "df": [df1, df2],
        "alpha": alpha,
        "coefficients": {t: float(beta[1 + i]) for i, t in enumerate(f_names)},
    }
    # Cluster scores: Σ over a cluster's rows of x·residual = Σ over its cells of x_cell·(sum_y − n·fitted).
    fitted = (full_x @ beta)[cell_of["cell"].to_numpy()]
    resid_sum = cell_of["sum_y"].to_numpy(dtype=float) - cell_of["n"].to_numpy(dtype=float) * fitted
    codes, clusters = pd.factorize(cell_of["cluster"])
    scores = np.zeros((clusters.shape[0], full_x.shape[1]))
    np.add.at(scores, codes, full_x[cell_of["cell"].to_numpy()] * resid_sum[:, None])
    g, k = clusters.shape[0], full_x.shape[1]
    bread = np.linalg.inv(xtx)
    cov = bread @ (scores.T @ scores) @ bread * (g / (g - 1.0) * ((nobs - 1.0) / (nobs - k)))
    terms = np.arange(1, 1 + f_x.shape[1])
    b = beta[terms]
    stat = float(b @ np.linalg.solve(cov[np.ix_(terms, terms)], b) / terms.shape[0])
    p = float(stats.f.sf(stat, terms.shape[0], g - 1))
    details["test"] = "Wald F test, standard errors clustered by user"
    details["clusters"] = int(g)
    details["inference"] = clustered.INFERENCE
    interpretation = (
        f"{measure} by {factor}, holding {adjust_for} fixed: "
        f"partial eta² {effect:.4f}, 95% CI [{low:.4f}, {high:.4f}]; {details['test']}, {fmt_p(p)}."
    )
    return Result(
        section=section,
        name=name,
        variables=variables,
        statistic_name="F",
        statistic=stat,
        p_value=p,
        effect_name="partial_eta_squared",
        effect=effect,
        ci_low=low,
        ci_high=high,
        n=nobs,
        interpretation=interpretation,
        details=details,
    )


# --- session-level questions, clustered by user ------------------------------------------------


def clustered_groups(
    naive: Result,
    sums: clustered.UserSums,
    *,
    measure: str,
    rng: np.random.Generator,
    n_boot: int,
) -> Result:
    """A session-level group comparison re-judged with users as the unit of resampling.

    `naive` is the comparison treating sessions as independent (kept in details as
    ``session_level_naive``); the row's p-value becomes the user-clustered Wald F test of equal
    means, its effect η² of the sessions with a user-level cluster bootstrap CI (clustered.py).
    """
    if "not_computed" in naive.details or sums.users < MIN_GROUP_N or len(sums.levels) < 2:
        return naive
    wald = clustered.wald_equal_means(sums)
    total = (sums.n.sum(axis=0), sums.s.sum(axis=0), sums.q.sum(axis=0))
    effect = float(clustered.eta_squared(*total))
    low, high = clustered.bootstrap_ci(sums, rng, n_boot)
    ladder = " < ".join(
        f"{k} {v:.1f}" for k, v in sorted(wald["means"].items(), key=lambda kv: kv[1])
    )
    test = "Wald F test of equal means, standard errors clustered by user"
    return naive.with_(
        statistic_name="F",
        statistic=wald["F"],
        p_value=wald["p"],
        effect_name="eta_squared",
        effect=effect,
        ci_low=low,
        ci_high=high,
        interpretation=(
            f"{measure} by group: means {ladder} (eta² {effect:.4f}, 95% CI [{low:.4f}, "
            f"{high:.4f}] by user cluster bootstrap; {test}, {fmt_p(wald['p'])}; "
            f"{wald['clusters']:,} users)."
        ),
        details={
            **naive.details,
            "test": test,
            "why": _clustered_why(naive, sums, "means"),
            "inference": clustered.INFERENCE,
            "df": wald["df"],
            "clusters": wald["clusters"],
            "users": wald["clusters"],
            "design_effect": clustered.design_effect(sums),
            "n_boot": n_boot,
            "session_level_naive": _naive_details(naive),
        },
    )


def _naive_details(naive: Result) -> dict[str, Any]:
    """The comparison that treats sessions as independent, labelled as such: its test, why it was
    chosen (the assumption checks), statistic, df, p, effect and CI. Not judged."""
    return {
        "note": "treats sessions as independent; shown for comparison, not judged",
        "test": naive.details.get("test"),
        "why": naive.details.get("why"),
        "statistic_name": naive.statistic_name,
        "statistic": naive.statistic,
        "df": naive.details.get("df"),
        "p_value": naive.p_value,
        "effect_name": naive.effect_name,
        "effect": naive.effect,
        "ci": [naive.ci_low, naive.ci_high],
    }


def _clustered_why(naive: Result, sums: clustered.UserSums, equal: str) -> str:
    """Why a session-level row is judged by the user-clustered Wald F test (details.why)."""
    return (
        f"sessions of one user are not independent (design effect "
        f"{clustered.design_effect(sums):.1f} over {sums.users:,} users), so the Wald F test of "
        f"equal {equal} with standard errors clustered by user, which assumes neither normality "
        f"nor equal variances, with a user cluster bootstrap CI; the "
        f"{naive.details.get('test') or 'test'} that treats sessions as independent (chosen by "
        f"the checks on the sessions) is kept in session_level_naive for comparison"
    )


def clustered_table(
    naive: Result,
    sums: clustered.UserSums,
    *,
    measure: str,
    rng: np.random.Generator,
    n_boot: int,
) -> Result:
    """A sessions table (plan × 4K) with its CI and p from users: sums.s counts the 4K sessions.

    The statistic stays the table's chi-square (the size of the association beside Cramér's V);
    the p-value is the user-clustered Wald F's (details.wald_f), the CI the user cluster
    bootstrap's; the naive chi-square test is kept in details.session_level_naive."""
    if "not_computed" in naive.details or sums.users < MIN_GROUP_N or len(sums.levels) < 2:
        return naive
    wald = clustered.wald_equal_means(sums)
    low, high = clustered.bootstrap_ci(sums, rng, n_boot, statistic="cramers_v")
    test = "Wald F test of equal shares, standard errors clustered by user"
    first = naive.details["first_column"]
    shares = ", ".join(f"{r} {v[first]:.1%}" for r, v in naive.details["row_shares"].items())
    return naive.with_(
        p_value=wald["p"],
        ci_low=low,
        ci_high=high,
        interpretation=(
            f"{measure}: {shares} (Cramér's V {naive.effect:.3f}, 95% CI [{low:.3f}, {high:.3f}] "
            f"by user cluster bootstrap; {test}, {fmt_p(wald['p'])}; {wald['clusters']:,} users)."
        ),
        details={
            **naive.details,
            "test": test,
            "why": _clustered_why(naive, sums, f"{first} shares"),
            "wald_f": {"F": wald["F"], "df": wald["df"]},
            "inference": clustered.INFERENCE,
            "clusters": wald["clusters"],
            "users": wald["clusters"],
            "design_effect": clustered.design_effect(sums),
            "session_level_naive": _naive_details(naive),
        },
    )


def group_sums(
    groups: UserSessionGroups, grouping: str, measure: str, order=None
) -> clustered.UserSums:
    """UserSums of one grouping (quality, device, weekday) and measure (completion, minutes)."""
    columns = ["user_id", "group_level", f"{measure}_count", f"sum_{measure}", f"sum_sq_{measure}"]
    part = groups.of(grouping)[columns]
    return clustered.UserSums.from_long(
        part,
        user="user_id",
        level="group_level",
        n=f"{measure}_count",
        s=f"sum_{measure}",
        q=f"sum_sq_{measure}",
        order=order,
    )


def _session_comparison(
    by_group: Mapping[str, Freq],
    groups: UserSessionGroups | None,
    sums_of: tuple[str, str, tuple[str, ...] | None],
    *,
    name: str,
    variables: str,
    measure: str,
    rng: np.random.Generator,
    n_boot: int,
) -> Result:
    """A session-level comparison (compare_many on the frequency tables), judged on users when
    the per-user sums are there: `sums_of` is (group kind, measure, level order) of group_sums."""
    naive = compare_many(
        by_group, name=name, variables=variables, measure=measure, rng=rng, n_boot=n_boot
    )
    if groups is None:
        return naive
    sums = group_sums(groups, *sums_of)
    return clustered_groups(naive, sums, measure=measure, rng=rng, n_boot=n_boot)


def plan_4k_sums(users: pd.DataFrame) -> clustered.UserSums:
    """Per user with a plan: sessions and 4K sessions (Σy = Σy² for a 0/1 outcome)."""
    known = users[users["plan"].notna() & (users["sessions"] > 0)]
    n = known["sessions"].to_numpy(dtype=float)
    k = np.round(known["share_4k"].fillna(0).to_numpy(dtype=float) * n)
    frame = pd.DataFrame({"user": known["user_id"], "plan": known["plan"], "n": n, "k": k})
    return clustered.UserSums.from_long(
        frame, user="user", level="plan", n="n", s="k", q="k", order=PLANS
    )


def _weighted_ssr(x: np.ndarray, n: np.ndarray, mean: np.ndarray, within: float) -> float:
    # Residual sum of squares of the weighted least-squares fit of cell means on x.
    root = np.sqrt(n)
    beta = np.linalg.lstsq(x * root[:, None], mean * root, rcond=None)[0]
    return within + float((n * (mean - x @ beta) ** 2).sum())


def partial_eta_squared_cluster_ci(
    cells: pd.DataFrame,
    factor: str,
    adjust_for: str,
    rng: np.random.Generator,
    n_boot: int,
) -> tuple[float, float]:
    """Percentile CI of the factor's partial η² (additive model) over user-level cluster resamples.

    A resample weights each cluster's cells by how often the cluster was drawn; the model's
    sums of squares follow from the weighted cell sums (n, Σy, Σy²) as in adjusted_factor.
    """
    keys = [factor, adjust_for]
    by_cell = cells[keys].drop_duplicates().sort_values(keys).reset_index(drop=True)
    cell_code = cells[keys].merge(by_cell.reset_index(), on=keys, how="left")["index"].to_numpy()
    f_x, _ = _treatment(by_cell[factor], factor)
    a_x, _ = _treatment(by_cell[adjust_for], adjust_for)
    ones = np.ones((by_cell.shape[0], 1))
    full, reduced = np.hstack([ones, f_x, a_x]), np.hstack([ones, a_x])
    codes, clusters = pd.factorize(cells["cluster"])
    n = cells["n"].to_numpy(float)
    s = cells["sum_y"].to_numpy(float)
    q = cells["ss_y"].to_numpy(float) + s**2 / n
    onehot = np.zeros((n.shape[0], by_cell.shape[0]))
    onehot[np.arange(n.shape[0]), cell_code] = 1.0
    draws = []
    for w in clustered.user_weights(clusters.shape[0], n_boot, rng):
        rows_w = w[:, codes]
        sums = zip((rows_w * n) @ onehot, (rows_w * s) @ onehot, (rows_w * q) @ onehot)
        for big_n, big_s, big_q in sums:
            keep = big_n > 0
            bn, bs = big_n[keep], big_s[keep]
            mean, within = bs / bn, float((big_q[keep] - bs**2 / bn).sum())
            r_full = _weighted_ssr(full[keep], bn, mean, within)
            r_reduced = _weighted_ssr(reduced[keep], bn, mean, within)
            draws.append((r_reduced - r_full) / r_reduced)
    low, high = np.nanpercentile(draws, [2.5, 97.5])
    return float(max(0.0, low)), float(high)


# --- the questions the course asks -------------------------------------------------------------


def _ordered(groups: Mapping[str, Freq], order: tuple[str, ...] | None = None) -> dict[str, Freq]:
    return {k: groups[k] for k in (order or sorted(groups)) if k in groups}


def _by(
    frame: pd.DataFrame, column: str, key: str, order: tuple[str, ...] | None = None
) -> dict[str, np.ndarray]:
    groups = {
        str(k): g[column].dropna().to_numpy(dtype=float)
        for k, g in frame.groupby(key, observed=True)
    }
    keys = [k for k in (order or sorted(groups)) if k in groups]
    return {k: groups[k] for k in keys}


def plan_4k_table(plan_quality: pd.DataFrame) -> pd.DataFrame:
    """Sessions per plan (rows Basic, Standard, Premium) streamed in 4K or not (any other or no quality)."""
    known = plan_quality[plan_quality["plan"].notna()]
    is_4k = np.where(known["quality"] == "4K", "4K", "other")
    table = known.assign(is_4k=is_4k).pivot_table(
        index="plan", columns="is_4k", values="n", aggfunc="sum", fill_value=0
    )
    table = table.reindex(columns=["4K", "other"], fill_value=0)
    table.columns.name = "col_0"
    return table.reindex(list(PLANS)).dropna().astype(np.int64)


def run(
    sessions: SessionAggregates,
    users: pd.DataFrame,
    cells: pd.DataFrame,
    rng: np.random.Generator,
    n_boot: int = 1000,
    groups: UserSessionGroups | None = None,
) -> list[Result]:
    """Premium vs Basic engagement, plan and 4K, completion by quality and device, weekday.

    `sessions` holds the session aggregates (data.session_aggregates), `users` one row per user
    (data.AnalysisData.users) and `cells` completion per user and quality (data.completion_cells).
    Per-user questions use one value per user (the unit that chose the plan); session-level ones
    use every session, through its frequency table, and — when `groups` (per-user sums,
    data.user_session_groups) is given — are judged with users as clusters (clustered_groups).
    Verdicts are set afterwards (results.adjust_family).
    """
    premium, basic = users[users["plan"] == "Premium"], users[users["plan"] == "Basic"]
    out: list[Result] = []
    for column, measure in (
        ("watch_minutes", "Watch minutes per user (session log)"),
        ("mean_completion", "Mean completion per user"),
        ("lifetime_hours", "Lifetime watch hours"),
        ("share_4k", "Share of a user's sessions in 4K"),
    ):
        out.append(
            compare_two(
                premium[column].dropna().to_numpy(),
                basic[column].dropna().to_numpy(),
                name=f"premium_vs_basic_{column}",
                variables=f"{column} ~ plan (Premium vs Basic)",
                label_a="Premium",
                label_b="Basic",
                measure=measure,
                rng=rng,
                n_boot=n_boot,
            )
        )
    out.append(
        compare_many(
            _by(users, "mean_completion", "plan", PLANS),
            name="plan_mean_completion",
            variables="mean_completion ~ plan",
            measure="Mean completion per user",
            rng=rng,
            n_boot=n_boot,
        )
    )
    chi = association(
        plan_4k_table(sessions.plan_quality),
        name="plan_4k_share",
        variables="quality is 4K ~ plan (sessions)",
        measure="Share of sessions streamed in 4K by plan",
        rng=rng,
        n_boot=n_boot,
    )
    # Sessions of one user share a plan: the CI and p come from users (clustered_table).
    out.append(
        clustered_table(
            chi,
            plan_4k_sums(users),
            measure="Share of sessions streamed in 4K by plan",
            rng=rng,
            n_boot=n_boot,
        )
        if "user_id" in users and "share_4k" in users
        else chi
    )
    out.append(
        _session_comparison(
            _ordered(sessions.freq("completion_by_quality"), QUALITY_ORDER),
            groups,
            ("quality", "completion", QUALITY_ORDER),
            name="quality_completion",
            variables="completion ~ quality_level (sessions)",
            measure="Completion per session",
            rng=rng,
            n_boot=n_boot,
        )
    )
    out.append(
        adjusted_factor(
            cells,
            factor="quality",
            adjust_for="plan",
            name="quality_completion_given_plan",
            variables="completion ~ quality_level + plan (sessions)",
            measure="Completion per session",
            rng=rng,
            n_boot=n_boot,
        )
    )
    out.append(
        _session_comparison(
            _ordered(sessions.freq("completion_by_device")),
            groups,
            ("device", "completion", None),
            name="device_completion",
            variables="completion ~ device_type (sessions)",
            measure="Completion per session",
            rng=rng,
            n_boot=n_boot,
        )
    )
    daily = sessions.daily
    out.append(
        compare_many(
            _by(daily, "sessions", "weekday", WEEKDAYS),
            name="weekday_daily_sessions",
            variables="sessions per day ~ weekday",
            measure="Sessions per day",
            rng=rng,
            n_boot=n_boot,
        )
    )
    out.append(
        _session_comparison(
            _ordered(sessions.freq("minutes_by_weekday"), WEEKDAYS),
            groups,
            ("weekday", "minutes", WEEKDAYS),
            name="weekday_watch_minutes",
            variables="watch_minutes ~ weekday (sessions)",
            measure="Watch minutes per session",
            rng=rng,
            n_boot=n_boot,
        )
    )
    return out
