"""The analysis end to end on generated data: raw files → ingest → dbt build → `run_analysis`.

Every persisted statistic is recomputed here from data read independently with SQL (Postgres
aggregates where Postgres has them, otherwise numpy/scipy formulas or another library path)
and compared. On generated data the planted effects must be found (p < 0.01) and the absent
ones must not be reported as significant; the retention model must score plausibly.
One throwaway database for the module: building it (dbt) is the expensive part.
"""

from __future__ import annotations

import json
import re
import uuid
from types import SimpleNamespace

import numpy as np
import pandas as pd
import psycopg2
import pymongo
import pytest
from _db_state import scratch_database
from scipy import stats
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import StandardScaler
from statsmodels.stats.multitest import multipletests

SCALE, SEED, DIRTY = 0.2, 42, 0.01
Z95 = 1.959963984540054
# Planted effects large enough that every verdict must name them (verdicts follow effect sizes:
# python_models/effect_sizes.py).
PLANTED = (
    "premium_vs_basic_mean_completion",
    "plan_mean_completion",
    "premium_vs_basic_share_4k",
)
# Planted but small (Cramér's V ≈ 0.11, at the smallest effect of interest 0.10): significant and
# never "negligible"; whether it is called an association depends on how many users there are.
PLANTED_SMALL = ("plan_4k_share",)
# Built into the data's definition (completion = watched minutes / length): no verdict at all.
DEFINITIONAL = (
    "pearson_session_watch_minutes__completion",
    "spearman_session_watch_minutes__completion",
)
ABSENT = (
    "pearson_lifetime_hours__tenure_days",
    "spearman_lifetime_hours__tenure_days",
    "series_views_on_seasons",
    "series_views_on_episode_minutes",
    "quality_completion_given_plan",
    "device_completion",
    "weekday_daily_sessions",
)
# Absent, on enough data that the interval must show it: negligible, not merely "not found".
ABSENT_AND_NEGLIGIBLE = ("device_completion", "quality_completion_given_plan")
POSITIVE = ("difference", "association")

pytestmark = pytest.mark.slow


# --- the database, built once ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def analysed(service_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory):
    from python_models.analyze import run_analysis
    from streamlytics.generate import generate_dataset
    from streamlytics.ingest import ingest_directory
    from streamlytics.transform import run_build

    mongo_db = f"test_{uuid.uuid4().hex[:12]}"
    work = tmp_path_factory.mktemp("stats")
    with scratch_database(service_urls["postgres"], prefix="test_stats") as url:
        try:
            generate_dataset(work / "data", scale=SCALE, seed=SEED, dirty_fraction=DIRTY)
            ingest_directory(work / "data", url)
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("DATABASE_URL", url)
                mp.setenv(
                    "DBT_INDIRECT_SELECTION", "cautious"
                )  # leave out tests that also read an unbuilt mart
                # Only what the analysis reads (the analysis marts, the core, the quarantine and their
                # ancestors, with their data tests); dbt unit tests check SQL logic, not this data,
                # and belong to dbt's suite.
                build = run_build(
                    select=[
                        "+path:models/core",
                        "+path:models/audit",
                        "+path:models/marts/analysis",
                    ],
                    exclude=["resource_type:unit_test"],
                    target_path=work / "target",
                    log_path=work / "logs",
                )
            assert build.return_code == 0, [f.describe() for f in build.failures]
            with pytest.MonkeyPatch.context() as mp:
                # The analysis finds the models through this build's manifest, not the project's.
                mp.setenv("DBT_TARGET_PATH", str(work / "target"))
                head = run_analysis(
                    url,
                    service_urls["mongo"],
                    mongo_db,
                    run_results=work / "target" / "run_results.json",
                )
                yield SimpleNamespace(
                    url=url,
                    head=head,
                    run_id=head["run_id"],
                    mongo_uri=service_urls["mongo"],
                    mongo_db=mongo_db,
                    run_results=work / "target" / "run_results.json",
                    target=work / "target",
                )
        finally:
            with pymongo.MongoClient(service_urls["mongo"]) as client:
                client.drop_database(mongo_db)


def sql(url: str, query: str, params: tuple = ()) -> pd.DataFrame:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(query, params or None)
        return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


@pytest.fixture(scope="module")
def results(analysed) -> dict[str, dict]:
    frame = sql(
        analysed.url, "select * from analysis.results where run_id = %s", (analysed.run_id,)
    )
    return {row["name"]: row for row in frame.to_dict("records")}


# Per-user figures, aggregated by Postgres (not by the analysis' pandas code).
PER_USER_SQL = """
with s as (
    select user_id, count(*) as sessions, sum(watch_minutes) as watch_minutes,
           avg(completion_percentage) as mean_completion,
           avg(case when quality_level = '4K' then 1.0 else 0.0 end) as share_4k
    from core.viewing_sessions group by user_id
)
select u.user_id, u.subscription_type as plan, u.age::float8 as age, u.lifetime_watch_hours::float8 as lifetime_hours,
       ((select max(watch_date) from core.viewing_sessions) - u.registration_date)::float8 as tenure_days,
       coalesce(s.sessions, 0)::float8 as sessions, coalesce(s.watch_minutes, 0)::float8 as watch_minutes,
       s.mean_completion::float8 as mean_completion, s.share_4k::float8 as share_4k
from core.users as u left join s on s.user_id = u.user_id
order by u.user_id
"""
SESSIONS_SQL = """
select v.user_id, u.subscription_type as plan, v.watch_minutes::float8 as watch_minutes,
       v.completion_percentage::float8 as completion, v.quality_level as quality, v.device_type as device,
       extract(isodow from v.watch_date)::int as isodow
from core.viewing_sessions as v join core.users as u on u.user_id = v.user_id
"""


@pytest.fixture(scope="module")
def per_user(analysed) -> pd.DataFrame:
    return sql(analysed.url, PER_USER_SQL)


@pytest.fixture(scope="module")
def sessions(analysed) -> pd.DataFrame:
    return sql(analysed.url, SESSIONS_SQL)


# --- acceptance: planted effects found, absent ones not ---------------------------------------------


def test_planted_effects_are_found_with_p_below_001(results):
    for name in PLANTED:
        r = results[name]
        assert r["p_value"] < 0.01 and r["p_adjusted"] < 0.01, name
        assert r["verdict"] in POSITIVE, (name, r["ci_low"], r["ci_high"])
        assert r["effect"] > 0, name
    for name in PLANTED_SMALL:
        r = results[name]
        assert r["p_adjusted"] < 0.01 and r["verdict"] != "negligible", name
    for name in DEFINITIONAL:
        r = results[name]
        assert pd.isna(r["verdict"]) and r["details"]["definitional"], name


def test_absent_effects_are_never_called_differences_and_are_negligible_when_n_allows(results):
    # Was: "not supported" by p-value. Now the verdict follows the effect's CI against its SESOI.
    for name in ABSENT:
        assert results[name]["verdict"] not in POSITIVE, (name, results[name]["ci_high"])
    for name in ABSENT_AND_NEGLIGIBLE:
        assert results[name]["verdict"] == "negligible", (name, results[name]["ci_high"])
    assert results["seed_claim_1_tenure_more_watching"]["verdict"] != "supported"
    claim2 = results["seed_claim_2_budget_rating_seasons_views"]
    assert claim2["verdict"] != "supported"
    parts = {p["claim"]: p["verdict"] for p in claim2["details"]["parts"]}
    assert parts["more seasons go with more series views"] != "supported"
    assert parts["longer episodes go with more series views"] != "supported"
    claim3 = results["seed_claim_3_mobile_quality_completion"]
    assert claim3["verdict"] == "not supported"
    assert {p["claim"]: p["verdict"] for p in claim3["details"]["parts"]}[
        "mobile is the most used device"
    ] != "supported"


def test_no_row_whose_interval_lies_inside_its_smallest_effect_of_interest_is_positive(results):
    from python_models.effect_sizes import NON_NEGATIVE

    judged = 0
    for name, r in results.items():
        sesoi, family = r["details"].get("sesoi"), r["details"].get("verdict_family")
        if sesoi is None or family is None:
            continue
        judged += 1
        low, high = (
            r["details"]["standardised_ci"]
            if family == "standardised_beta"
            else (
                r["ci_low"] - r["details"]["null_share"],
                r["ci_high"] - r["details"]["null_share"],
            )
            if family == "share_above_half"
            else (r["ci_low"], r["ci_high"])
        )
        inside = high < sesoi if family in NON_NEGATIVE else -sesoi < low and high < sesoi
        beyond = low > sesoi if family in NON_NEGATIVE else low > sesoi or high < -sesoi
        if inside:
            assert r["verdict"] == "negligible", name
        elif beyond and (pd.isna(r["p_adjusted"]) or r["p_adjusted"] < 0.05):
            assert r["verdict"] in POSITIVE, name
        else:
            assert r["verdict"] == "inconclusive", name
    assert judged > 30


def test_session_level_rows_say_they_cluster_on_users(results):
    for name in (
        "quality_completion",
        "device_completion",
        "weekday_watch_minutes",
        "plan_4k_share",
        "quality_completion_given_plan",
        "mobile_is_top_device",
        "most_sessions_hd_or_4k",
    ):
        assert "user-clustered" in results[name]["details"]["inference"], name


def test_retention_model_is_plausible_on_held_out_users_and_its_curves_are_persisted(
    analysed, results
):
    auc = results["retention_auc_logistic"]
    assert 0.5 < auc["effect"] < 0.95 and auc["ci_low"] < auc["effect"] < auc["ci_high"]
    assert results["retention_auc_gradient_boosting"]["effect"] < 0.95
    counts = sql(
        analysed.url,
        """
        with cutoff as (select date_trunc('month', max(watch_date))::date as d from core.viewing_sessions)
        select count(*) filter (where exists (select 1 from core.viewing_sessions v, cutoff
                                              where v.user_id = u.user_id and v.watch_date >= cutoff.d)) as retained,
               count(*) as users
        from core.users as u, cutoff where u.registration_date < cutoff.d
    """,
    ).iloc[0]
    assert auc["details"]["retained"] == counts["retained"] and auc["n"] == counts["users"]
    assert auc["details"]["target"].startswith("at least one session between 2024-08-01")
    for model in ("logistic", "gradient_boosting"):
        roc = sql(
            analysed.url,
            "select x, y from analysis.series where run_id = %s and series = %s order by point_index",
            (analysed.run_id, f"retention_roc_{model}"),
        )
        assert np.trapezoid(roc["y"], roc["x"]) == pytest.approx(
            results[f"retention_auc_{model}"]["effect"], abs=1e-9
        )
        bins = sql(
            analysed.url,
            "select n from analysis.series where run_id = %s and series = %s",
            (analysed.run_id, f"retention_calibration_{model}"),
        )
        assert bins["n"].sum() == counts["users"]
    for name, r in results.items():
        if name.startswith("retention_logistic_coef_"):
            assert r["ci_low"] <= r["effect"] <= r["ci_high"], name


def test_retention_features_read_nothing_from_the_target_month(analysed):
    """The model's SQL gives the same features after every target-month session is rewritten."""
    compiled = (
        analysed.target
        / "compiled/streamlytics/models/marts/analysis/ana_user_retention_features.sql"
    ).read_text()
    features = f"select * from ({compiled}) as features order by user_id"
    with psycopg2.connect(analysed.url) as conn:
        cutoff = sql(
            analysed.url,
            "select date_trunc('month', max(watch_date))::date as d from core.viewing_sessions",
        ).iloc[0, 0]
        before = query_rows(conn, features)
        assert (before["cutoff_date"] == cutoff).all()
        assert before["last_session_before"].dropna().max() < cutoff
        assert before["is_retained"].any() and not before["is_retained"].all()
        with conn.cursor() as cur:  # rewrite every session of the target month; rolled back below
            cur.execute(
                "update core.viewing_sessions set watch_minutes = watch_minutes + 999, "
                "completion_percentage = 0, quality_level = '4K', device_type = 'Mobile' "
                "where watch_date >= %s",
                (cutoff,),
            )
            assert cur.rowcount > 0
        changed = query_rows(conn, features)
        conn.rollback()
    pd.testing.assert_frame_equal(before, changed)
    from streamlytics.dbt_relations import relation

    persisted = sql(analysed.url, f"select * from {relation('ana_user_retention_features')}")
    pd.testing.assert_frame_equal(
        before, persisted.sort_values("user_id").reset_index(drop=True)[list(before.columns)]
    )


def query_rows(conn, query: str) -> pd.DataFrame:
    with conn.cursor() as cur:
        cur.execute(query)
        return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


# --- every statistic recomputed -----------------------------------------------------------------------

DESCRIBED = {
    ("watch_minutes", "session"): "select u.subscription_type as grp, v.watch_minutes::float8 as x "
    "from core.viewing_sessions v join core.users u using (user_id)",
    (
        "completion_percentage",
        "session",
    ): "select u.subscription_type as grp, v.completion_percentage::float8 as x "
    "from core.viewing_sessions v join core.users u using (user_id)",
    (
        "watch_minutes_per_user",
        "user",
    ): f"select plan as grp, watch_minutes as x from ({PER_USER_SQL}) t",
    (
        "mean_completion_per_user",
        "user",
    ): f"select plan as grp, mean_completion as x from ({PER_USER_SQL}) t",
    (
        "lifetime_hours",
        "user",
    ): "select subscription_type as grp, lifetime_watch_hours::float8 as x from core.users",
    ("age", "user"): "select 'all' as grp, age::float8 as x from core.users",
    ("tenure_days", "user"): f"select 'all' as grp, tenure_days as x from ({PER_USER_SQL}) t",
    ("rating", "content"): "select content_type as grp, rating::float8 as x from core.content",
    (
        "budget",
        "content",
    ): "select content_type as grp, production_budget::float8 as x from core.content",
    ("views", "content"): "select content_type as grp, views::float8 as x from core.content",
}


def test_descriptive_statistics_equal_postgres_aggregates(analysed):
    persisted = sql(
        analysed.url, "select * from analysis.descriptive where run_id = %s", (analysed.run_id,)
    )
    assert set(zip(persisted["variable"], persisted["level"])) == set(DESCRIBED)
    for (variable, level), query in DESCRIBED.items():
        expected = sql(
            analysed.url,
            f"""
            with v as ({query}), g as (select grp, x from v union all select 'all', x from v where grp <> 'all')
            select grp, count(x) as n, avg(x) as mean, stddev_samp(x) as sd, min(x) as min, max(x) as max,
                   percentile_cont(0.5) within group (order by x) as median,
                   percentile_cont(0.25) within group (order by x) as q1,
                   percentile_cont(0.75) within group (order by x) as q3,
                   mode() within group (order by x) as mode
            from g where x is not null group by grp
        """,
        ).set_index("grp")
        mine = persisted[
            (persisted["variable"] == variable) & (persisted["level"] == level)
        ].set_index("grp")
        assert set(mine.index) == set(expected.index), variable
        for grp, row in mine.iterrows():
            e = expected.loc[grp]
            assert row["n"] == e["n"], (variable, grp)
            for col in ("mean", "sd", "min", "max", "median", "q1", "q3", "mode"):
                assert row[col] == pytest.approx(float(e[col]), rel=1e-9, abs=1e-9), (
                    variable,
                    grp,
                    col,
                )
            values = sql(
                analysed.url,
                f"select x from ({query}) v where x is not null"
                + ("" if grp == "all" else " and grp = %s"),
                () if grp == "all" else (grp,),
            )["x"].astype(float)
            assert row["skew"] == pytest.approx(values.skew()) and row["kurtosis"] == pytest.approx(
                values.kurt()
            )
            q1, q3 = float(e["q1"]), float(e["q3"])
            fence = 1.5 * (q3 - q1)
            assert row["n_outliers_iqr"] == int(
                ((values < q1 - fence) | (values > q3 + fence)).sum()
            )
            mad = (values - values.median()).abs().median()
            if mad > 0:
                assert row["n_outliers_robust_z"] == int(
                    (0.6745 * (values - values.median()).abs() / mad > 3.5).sum()
                )


def _rank_biserial(a: np.ndarray, b: np.ndarray) -> float:
    # P(a > b) − P(a < b) over all pairs: the definition, without ranks.
    return float(np.mean(np.sign(a[:, None] - b[None, :])))


def _naive_bootstrap(groups: list[np.ndarray], fn, n_boot: int = 1000) -> tuple[float, float]:
    rng = np.random.default_rng(99)
    values = [fn([g[rng.integers(0, len(g), len(g))] for g in groups]) for _ in range(n_boot)]
    return tuple(np.percentile(values, [2.5, 97.5]))


def test_premium_vs_basic_tests_equal_scipy_on_sql_aggregates(results, per_user):
    for column in ("watch_minutes", "mean_completion", "lifetime_hours", "share_4k"):
        r = results[f"premium_vs_basic_{column}"]
        a = per_user.loc[per_user["plan"] == "Premium", column].dropna().to_numpy(float)
        b = per_user.loc[per_user["plan"] == "Basic", column].dropna().to_numpy(float)
        assert r["n"] == len(a) + len(b)
        test = r["details"]["test"]
        if test == "Mann-Whitney U test":
            mw = stats.mannwhitneyu(a, b, method="asymptotic")
            assert (r["statistic"], r["p_value"]) == pytest.approx(
                (mw.statistic, mw.pvalue), rel=1e-9
            )
            assert r["effect"] == pytest.approx(_rank_biserial(a, b))
            low, high = _naive_bootstrap(
                [a, b],
                lambda g: (
                    2 * stats.mannwhitneyu(g[0], g[1]).statistic / (len(g[0]) * len(g[1])) - 1
                ),
                400,
            )
            assert r["ci_low"] == pytest.approx(low, abs=0.04) and r["ci_high"] == pytest.approx(
                high, abs=0.04
            )
        else:
            welch = test == "Welch t test"
            t = stats.ttest_ind(a, b, equal_var=not welch)
            assert (r["statistic"], r["p_value"]) == pytest.approx(
                (t.statistic, t.pvalue), rel=1e-9
            )
            n1, n2 = len(a), len(b)
            sp = np.sqrt(((n1 - 1) * a.var(ddof=1) + (n2 - 1) * b.var(ddof=1)) / (n1 + n2 - 2))
            g = (a.mean() - b.mean()) / sp * (1 - 3 / (4 * (n1 + n2) - 9))
            se = np.sqrt((n1 + n2) / (n1 * n2) + g * g / (2 * (n1 + n2)))
            assert (r["effect"], r["ci_low"], r["ci_high"]) == pytest.approx(
                (g, g - Z95 * se, g + Z95 * se)
            )
        # the assumption checks are the ones reported
        assert r["details"]["variance"]["levene_p"] == pytest.approx(
            stats.levene(a, b, center="median").pvalue
        )


def _welch_anova(groups: list[np.ndarray]) -> tuple[float, float]:
    """Welch's (1951) heteroscedastic one-way ANOVA, by its textbook formula: (F, p)."""
    k = len(groups)
    n = np.array([len(g) for g in groups], dtype=float)
    m = np.array([g.mean() for g in groups])
    w = n / np.array([g.var(ddof=1) for g in groups])
    mw = (w * m).sum() / w.sum()
    lam = ((1 - w / w.sum()) ** 2 / (n - 1)).sum()
    f = (w * (m - mw) ** 2).sum() / (k - 1) / (1 + 2 * (k - 2) / (k**2 - 1) * lam)
    return float(f), float(stats.f.sf(f, k - 1, (k**2 - 1) / (3 * lam)))


def _clustered_check(r: dict, frame: pd.DataFrame, group: str, y: str) -> None:
    """The row's F, p and η² equal statsmodels' OLS of y on the groups, SEs clustered by user;
    the naive session-level Kruskal–Wallis kept beside it equals scipy's."""
    import statsmodels.formula.api as smf

    frame = frame.dropna(subset=[y]).assign(g=lambda f: f[group].astype(str))
    fit = smf.ols(f"{y} ~ C(g)", frame).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(frame["user_id"])[0]}, use_t=True
    )
    names = [n for n in fit.params.index if n.startswith("C(g)")]
    wald = fit.f_test(", ".join(f"{n} = 0" for n in names))
    assert r["statistic"] == pytest.approx(float(wald.fvalue), rel=1e-6)
    assert r["p_value"] == pytest.approx(float(wald.pvalue), rel=1e-6, abs=1e-300)
    means = frame.groupby("g")[y].transform("mean")
    eta = ((means - frame[y].mean()) ** 2).sum() / ((frame[y] - frame[y].mean()) ** 2).sum()
    assert r["effect"] == pytest.approx(eta)
    assert r["details"]["clusters"] == frame["user_id"].nunique()
    naive = r["details"]["session_level_naive"]
    if naive["test"] == "Kruskal-Wallis test":
        kw = stats.kruskal(*(g[y].to_numpy(float) for _, g in frame.groupby("g")))
        assert naive["statistic"] == pytest.approx(kw.statistic, rel=1e-9)


def _k_groups_check(r: dict, groups: list[np.ndarray]) -> None:
    assert r["n"] == sum(len(g) for g in groups)
    test = r["details"]["test"]
    n = sum(len(g) for g in groups)
    if test == "Kruskal-Wallis test":
        kw = stats.kruskal(*groups)
        assert (r["statistic"], r["p_value"]) == pytest.approx(
            (kw.statistic, kw.pvalue), rel=1e-9, abs=1e-300
        )
        assert r["effect"] == pytest.approx(kw.statistic / (n - 1))
    else:
        import statsmodels.formula.api as smf
        from statsmodels.stats.anova import anova_lm

        frame = pd.DataFrame(
            {
                "y": np.concatenate(groups),
                "g": np.repeat(np.arange(len(groups)), [len(g) for g in groups]),
            }
        )
        table = anova_lm(smf.ols("y ~ C(g)", frame).fit())
        assert r["effect"] == pytest.approx(table.loc["C(g)", "sum_sq"] / table["sum_sq"].sum())
        if test == "one-way ANOVA":
            f = stats.f_oneway(*groups)
            assert (r["statistic"], r["p_value"]) == pytest.approx(
                (f.statistic, f.pvalue), rel=1e-9
            )
        else:
            assert test == "Welch ANOVA"
            assert (r["statistic"], r["p_value"]) == pytest.approx(
                _welch_anova(groups), rel=1e-9, abs=1e-300
            )
    assert r["ci_low"] <= r["effect"] <= r["ci_high"]


def test_group_comparisons_equal_scipy_on_sql_data(analysed, results, per_user, sessions):
    _k_groups_check(
        results["plan_mean_completion"],
        [
            per_user.loc[per_user["plan"] == p, "mean_completion"].dropna().to_numpy(float)
            for p in ("Basic", "Standard", "Premium")
        ],
    )
    # Session-level comparisons: OLS of the outcome on the groups with user-clustered errors.
    _clustered_check(
        results["quality_completion"], sessions.dropna(subset=["quality"]), "quality", "completion"
    )
    _clustered_check(
        results["device_completion"], sessions.dropna(subset=["device"]), "device", "completion"
    )
    _clustered_check(results["weekday_watch_minutes"], sessions, "isodow", "watch_minutes")
    daily = sql(
        analysed.url,
        """
        with days as (select generate_series(min(watch_date), max(watch_date), interval '1 day')::date as d
                      from core.viewing_sessions)
        select extract(isodow from d)::int as isodow, count(v.session_id)::float8 as n
        from days left join core.viewing_sessions v on v.watch_date = days.d group by d
    """,
    )
    _k_groups_check(
        results["weekday_daily_sessions"],
        [daily.loc[daily["isodow"] == d, "n"].to_numpy(float) for d in range(1, 8)],
    )


def test_plan_4k_chi_square_equals_scipy_on_a_sql_crosstab(analysed, results):
    table = (
        sql(
            analysed.url,
            """
        select u.subscription_type as plan, count(*) filter (where v.quality_level = '4K') as k4,
               count(*) filter (where v.quality_level <> '4K') as other
        from core.viewing_sessions v join core.users u using (user_id) group by 1
    """,
        )
        .set_index("plan")
        .loc[["Basic", "Standard", "Premium"]]
        .to_numpy(dtype=np.int64)
    )
    r = results["plan_4k_share"]
    chi = stats.chi2_contingency(table, correction=False)
    naive = r["details"]["session_level_naive"]
    assert (r["statistic"], naive["p_value"]) == pytest.approx(
        (chi.statistic, chi.pvalue), rel=1e-9, abs=1e-300
    )
    # The verdict's p: equal 4K shares across plans, sessions clustered by user.
    import statsmodels.formula.api as smf

    sessions = sql(
        analysed.url,
        "select v.user_id, u.subscription_type as plan, "
        "(case when v.quality_level = '4K' then 1.0 else 0.0 end)::float8 as k4 "
        "from core.viewing_sessions v join core.users u using (user_id)",
    )
    fit = smf.ols("k4 ~ C(plan)", sessions).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(sessions["user_id"])[0]}, use_t=True
    )
    wald = fit.f_test("C(plan)[T.Premium] = 0, C(plan)[T.Standard] = 0")
    assert r["p_value"] == pytest.approx(float(wald.pvalue), rel=1e-6, abs=1e-300)
    assert r["effect"] == pytest.approx(stats.contingency.association(table, method="cramer"))
    assert r["details"]["row_shares"]["Premium"]["4K"] == pytest.approx(
        table[2, 0] / table[2].sum()
    )
    assert r["ci_low"] < r["effect"] < r["ci_high"]


def test_quality_effect_given_plan_equals_statsmodels_formula_path(results, sessions):
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    r = results["quality_completion_given_plan"]
    model = smf.ols("completion ~ C(quality) + C(plan)", sessions)
    table = anova_lm(model.fit(), typ=2)
    ss_q, ss_e = table.loc["C(quality)", "sum_sq"], table.loc["Residual", "sum_sq"]
    assert r["effect"] == pytest.approx(ss_q / (ss_q + ss_e))
    assert r["details"]["classic_f"] == pytest.approx(table.loc["C(quality)", "F"])
    robust = model.fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(sessions["user_id"])[0]}
    )
    wald = robust.f_test("C(quality)[T.HD] = 0, C(quality)[T.SD] = 0")
    assert r["p_value"] == pytest.approx(float(wald.pvalue), rel=1e-6)


def test_holm_adjustment_is_the_textbook_one_per_section(results):
    for section in ("hypothesis", "correlation", "regression"):
        rows = [r for r in results.values() if r["section"] == section and r["p_value"] is not None]
        adjusted = multipletests([r["p_value"] for r in rows], method="holm")[1]
        assert [r["p_adjusted"] for r in rows] == pytest.approx(
            list(adjusted), rel=1e-9, abs=1e-300
        )


def test_correlations_equal_postgres_corr_and_fisher_intervals(analysed, results, per_user):
    for name, r in results.items():
        if r["section"] != "correlation":
            continue
        x, y = r["details"]["x"], r["details"]["y"]
        if r["details"]["level"] == "session":
            source = (
                "(select watch_minutes::float8 as watch_minutes, completion_percentage::float8 as completion "
                "from core.viewing_sessions)"
            )
        else:
            source = f"({PER_USER_SQL})"
        pair = sql(
            analysed.url,
            f"select {x} as x, {y} as y from {source} t where {x} is not null and {y} is not null",
        )
        n = len(pair)
        assert r["n"] == n, name
        if r["details"]["method"] == "pearson":
            expected = float(sql(analysed.url, f"select corr({x}, {y}) from {source} t").iloc[0, 0])
            se = 1 / np.sqrt(n - 3)
            assert r["p_value"] == pytest.approx(
                stats.pearsonr(pair["x"], pair["y"]).pvalue, rel=1e-6, abs=1e-300
            )
        else:
            expected = float(
                np.corrcoef(stats.rankdata(pair["x"]), stats.rankdata(pair["y"]))[0, 1]
            )
            se = np.sqrt((1 + expected**2 / 2) / (n - 3))
        assert r["effect"] == pytest.approx(expected, abs=1e-9), name
        z = np.arctanh(expected)
        assert (r["ci_low"], r["ci_high"]) == pytest.approx(
            (np.tanh(z - Z95 * se), np.tanh(z + Z95 * se)), abs=1e-9
        )


def test_popularity_regressions_equal_hand_computed_least_squares(analysed, results):
    content = sql(
        analysed.url,
        """
        select c.content_type, c.views::float8 as views, c.production_budget::float8 / 1e6 as budget_musd,
               c.rating::float8 as rating, s.season_count::float8 as seasons,
               c.content_length_minutes::float8 as episode_minutes
        from core.content c left join core.series_details s using (content_id)
    """,
    )
    for kind, plural, predictors in (
        ("movie", "movies", ["budget_musd", "rating"]),
        ("series", "series", ["seasons", "episode_minutes"]),
    ):
        part = content[content["content_type"] == kind]
        x = np.column_stack([np.ones(len(part)), part[predictors].to_numpy()])
        y = part["views"].to_numpy()
        beta = np.linalg.solve(x.T @ x, x.T @ y)
        resid = y - x @ beta
        xtx_inv = np.linalg.inv(x.T @ x)
        robust = results[f"{plural}_views_model"]["details"]["covariance"] == "HC3 robust"
        if robust:
            h = np.einsum("ij,jk,ik->i", x, xtx_inv, x)
            cov = xtx_inv @ (x.T * (resid / (1 - h)) ** 2) @ x @ xtx_inv
        else:
            cov = xtx_inv * (resid @ resid) / (len(y) - x.shape[1])
        se = np.sqrt(np.diag(cov))
        t_crit = stats.t.ppf(0.975, len(y) - x.shape[1])
        for i, p in enumerate(predictors, start=1):
            r = results[f"{plural}_views_on_{p}"]
            t = beta[i] / se[i]
            assert r["effect"] == pytest.approx(beta[i]) and r["statistic"] == pytest.approx(t)
            assert r["p_value"] == pytest.approx(2 * stats.t.sf(abs(t), len(y) - x.shape[1]))
            assert (r["ci_low"], r["ci_high"]) == pytest.approx(
                (beta[i] - t_crit * se[i], beta[i] + t_crit * se[i])
            )
        r2 = 1 - (resid @ resid) / ((y - y.mean()) @ (y - y.mean()))
        assert results[f"{plural}_views_model"]["effect"] == pytest.approx(r2)


def test_trend_series_equal_sql_group_by(analysed, results):
    points = sql(
        analysed.url, "select * from analysis.series where run_id = %s", (analysed.run_id,)
    )
    monthly = sql(
        analysed.url,
        """
        select to_char(date_trunc('month', watch_date), 'YYYY-MM') as month, count(*) as sessions,
               sum(watch_minutes) as minutes, avg(completion_percentage)::float8 as completion,
               count(distinct user_id) as users
        from core.viewing_sessions group by 1 order by 1
    """,
    )
    for measure, col in (
        ("sessions", "sessions"),
        ("watch_minutes", "minutes"),
        ("mean_completion", "completion"),
        ("active_users", "users"),
    ):
        mine = points[(points["series"] == "monthly") & (points["measure"] == measure)].sort_values(
            "point_index"
        )
        assert list(mine["x_label"]) == list(monthly["month"])
        assert list(mine["y"]) == pytest.approx(monthly[col].astype(float).tolist())
    weekday = sql(
        analysed.url,
        "select extract(isodow from watch_date)::int as d, count(*) as n "
        "from core.viewing_sessions group by 1 order by 1",
    )
    mine = points[(points["series"] == "weekday") & (points["measure"] == "sessions")].sort_values(
        "point_index"
    )
    assert list(mine["x_label"]) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert list(mine["y"]) == pytest.approx(weekday["n"].astype(float).tolist())
    daily = points[(points["series"] == "daily") & (points["measure"] == "sessions")].sort_values(
        "point_index"
    )
    span = sql(
        analysed.url,
        "select max(watch_date) - min(watch_date) + 1 as days from core.viewing_sessions",
    ).iloc[0, 0]
    assert len(daily) == span and daily["y"].sum() == results["plan_4k_share"]["n"]
    trend = results["daily_sessions_trend"]
    assert trend["effect"] == pytest.approx(
        stats.spearmanr(np.arange(len(daily)), daily["y"]).statistic
    )


def test_clusters_agree_with_sklearn_recomputed_from_sql_features(analysed, results):
    from python_models.clustering import FEATURES

    features = sql(
        analysed.url,
        """
        select v.user_id, count(*)::float8 as sessions, sum(v.watch_minutes)::float8 as watch_minutes,
               avg(v.completion_percentage)::float8 as mean_completion, avg(v.watch_minutes)::float8 as minutes_per_session,
               avg(case when v.quality_level = '4K' then 1.0 else 0.0 end)::float8 as share_4k,
               avg(case when v.device_type = 'Mobile' then 1.0 else 0.0 end)::float8 as share_mobile,
               avg(case when c.content_type = 'series' then 1.0 else 0.0 end)::float8 as share_series,
               max(u.lifetime_watch_hours)::float8 as lifetime_hours
        from core.viewing_sessions v join core.content c using (content_id) join core.users u using (user_id)
        group by v.user_id
    """,
    )
    labels = sql(
        analysed.url, "select * from analysis.user_clusters where run_id = %s", (analysed.run_id,)
    )
    merged = features.merge(labels, on="user_id", validate="1:1")
    assert len(merged) == len(features) == len(labels)
    k = int(results["kmeans_chosen_k"]["statistic"])
    assert sorted(merged["kmeans_cluster"].unique()) == list(range(k))
    x = StandardScaler().fit_transform(merged[list(FEATURES)].to_numpy())
    assert len(merged) <= 3000  # below the silhouette sample size, so the persisted score is exact
    assert results[f"kmeans_silhouette_k{k}"]["statistic"] == pytest.approx(
        silhouette_score(x, merged["kmeans_cluster"])
    )
    sample = merged[merged["in_ward_sample"]]
    assert results["kmeans_vs_ward_ari"]["effect"] == pytest.approx(
        adjusted_rand_score(sample["kmeans_cluster"], sample["ward_cluster"])
    )
    profiles = sql(
        analysed.url,
        "select * from analysis.clusters where run_id = %s and feature = 'mean_completion'",
        (analysed.run_id,),
    )
    for row in profiles.itertuples():
        members = merged[merged[f"{row.method}_cluster"] == row.cluster]
        assert row.n_users == len(members) and row.mean == pytest.approx(
            members["mean_completion"].mean()
        )
    silhouettes = sql(
        analysed.url,
        "select x, y from analysis.series where run_id = %s and series = 'kmeans_silhouette'",
        (analysed.run_id,),
    )
    assert sorted(silhouettes["x"]) == list(range(2, 9))


def test_models_fitted_in_this_process_give_the_persisted_run_exactly(
    analysed, results, monkeypatch
):
    """The run persisted above fitted the clustering and the retention model in a process of
    their own, beside the tests (two cores); fitted here, in order, every figure is the same."""
    from python_models.analyze import compute
    from streamlytics.warehouse import models_reader

    monkeypatch.setenv("DBT_TARGET_PATH", str(analysed.target))
    with psycopg2.connect(analysed.url) as conn:
        here = compute(models_reader(conn), run_results=analysed.run_results, model_process=False)
    assert {r.name for r in here["results"]} == set(results)

    def value(v: object) -> object:  # pandas reads a NULL as NaN
        return None if v is None or (isinstance(v, float) and np.isnan(v)) else v

    figures = ("statistic", "p_value", "p_adjusted", "effect", "ci_low", "ci_high", "n")
    for r in here["results"]:
        for figure in (*figures, "verdict"):
            mine, theirs = value(getattr(r, figure)), value(results[r.name][figure])
            assert mine == theirs, (r.name, figure, mine, theirs)
    labels = sql(
        analysed.url,
        "select user_id, kmeans_cluster from analysis.user_clusters where run_id = %s",
        (analysed.run_id,),
    ).set_index("user_id")["kmeans_cluster"]
    mine = here["clusters"].assignments.set_index("user_id")["kmeans_cluster"]
    assert mine.sort_index().tolist() == labels.sort_index().tolist()


def test_data_quality_accounts_for_every_record_per_file_and_rule(analysed, results):
    ledger = sql(
        analysed.url,
        "select batch_id, source_file, lines_read from audit.load_batches where status = 'loaded'",
    )
    refused = sql(
        analysed.url,
        """
        select batch_id, stage, reason_code, coalesce(field, '') as field, count(*) as n from (
            select batch_id, stage, reason_code, field from audit.quarantine
            union all select batch_id, stage, reason_code, field from audit.staging_quarantine) q
        group by 1, 2, 3, 4
    """,
    )
    core = sql(
        analysed.url,
        """
        select batch_id, count(*) as n from (select batch_id from core.users union all select batch_id from core.content
                                             union all select batch_id from core.viewing_sessions) t group by 1
    """,
    ).set_index("batch_id")["n"]
    files = [
        r
        for r in results.values()
        if r["section"] == "data_quality" and r["name"].startswith("file_")
    ]
    assert len(files) == len(ledger) == 3
    for r in files:
        b = ledger[ledger["batch_id"] == r["details"]["batch_id"]].iloc[0]
        mine = refused[refused["batch_id"] == b["batch_id"]]
        assert r["n"] == b["lines_read"] and r["statistic"] == mine["n"].sum()
        assert r["details"]["rows_in_core"] == core[b["batch_id"]]
        assert (
            r["details"]["rows_quarantined_at_staging"]
            == mine.loc[mine["stage"] == "staging", "n"].sum()
        )
        assert (
            r["verdict"] == "reconciled"
            and b["lines_read"] == core[b["batch_id"]] + mine["n"].sum()
        )
    assert sum(r["statistic"] for r in files) > 0  # the dirty data set did refuse rows
    persisted = sql(
        analysed.url,
        "select batch_id, stage, reason_code, field, rows from analysis.data_quality "
        "where run_id = %s",
        (analysed.run_id,),
    )
    merged = persisted.merge(
        refused, on=["batch_id", "stage", "reason_code", "field"], how="outer", validate="1:1"
    )
    assert (merged["rows"] == merged["n"]).all()
    dbt = json.loads(analysed.run_results.read_text())
    tests = [t for t in dbt["results"] if t["unique_id"].startswith("test.")]
    assert results["dbt_tests"]["n"] == len(tests)
    assert results["dbt_tests"]["statistic"] == sum(t["status"] == "pass" for t in tests)


def test_seed_evidence_equals_binomial_tests_on_sql_counts(analysed, results):
    devices = sql(
        analysed.url,
        "select device_type, count(*) as n from core.viewing_sessions group by 1 order by 2 desc",
    )
    counts = dict(zip(devices["device_type"], devices["n"]))
    rival = max((d for d in counts if d != "Mobile"), key=counts.get)
    r = results["mobile_is_top_device"]
    assert r["details"]["rival"] == rival
    p = stats.binomtest(
        counts["Mobile"], counts["Mobile"] + counts[rival], 0.5, alternative="greater"
    ).pvalue
    assert r["details"]["session_level_naive"]["p_value"] == pytest.approx(p)
    # The verdict's p: a one-sided z test of the share with user-clustered SE (an intercept-only
    # OLS on the sessions with statsmodels' cluster covariance).
    import statsmodels.api as sm

    pair = sql(
        analysed.url,
        "select user_id, (case when device_type = 'Mobile' then 1.0 else 0.0 end)::float8 as mobile "
        "from core.viewing_sessions where device_type in ('Mobile', %s)",
        (rival,),
    )
    fit = sm.OLS(pair["mobile"].to_numpy(float), np.ones((len(pair), 1))).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(pair["user_id"])[0]}
    )
    z = (fit.params[0] - 0.5) / fit.bse[0]
    assert r["p_value"] == pytest.approx(stats.norm.sf(z), rel=1e-6, abs=1e-300)
    hd = sql(
        analysed.url,
        "select count(*) filter (where quality_level in ('HD', '4K')) as k, count(*) as n "
        "from core.viewing_sessions",
    ).iloc[0]
    assert results["most_sessions_hd_or_4k"]["effect"] == pytest.approx(hd["k"] / hd["n"])


def test_run_row_fingerprints_the_data_and_mongo_holds_the_same_summary(analysed, results):
    run = sql(
        analysed.url, "select * from analysis.runs where run_id = %s", (analysed.run_id,)
    ).iloc[0]
    for table, n in run["data_fingerprint"]["row_counts"].items():
        assert n == sql(analysed.url, f"select count(*) from core.{table}").iloc[0, 0], table
    assert run["headline"]["seed_findings"] == analysed.head["seed_findings"]
    with pymongo.MongoClient(analysed.mongo_uri) as client:
        doc = client[analysed.mongo_db]["statistics_summary"].find_one({"_id": analysed.run_id})
    assert doc is not None and doc["run_id"] == analysed.run_id
    assert {f["name"]: f["verdict"] for f in doc["findings"]} == {
        n: r["verdict"] for n, r in results.items() if r["section"] == "seed_finding"
    }
    by_name = {r["name"]: r for r in doc["results"]}
    for name in PLANTED:
        assert by_name[name]["p_adjusted"] == pytest.approx(
            results[name]["p_adjusted"], rel=1e-12, abs=1e-300
        )


# --- the command ------------------------------------------------------------------------------------


def test_cli_analyze_prints_its_run_id_and_that_run_becomes_the_latest(analysed, monkeypatch):
    from typer.testing import CliRunner

    from streamlytics.cli import app

    monkeypatch.setenv("DATABASE_URL", analysed.url)
    monkeypatch.setenv("COLUMNS", "200")  # wide enough for the table's full result names
    # the same inputs as the first run, dbt's results included, so the rows must match
    outcome = CliRunner().invoke(
        app, ["analyze", "--no-mongo", "--dbt-run-results", str(analysed.run_results)]
    )
    assert outcome.exit_code == 0, outcome.output
    run_id = outcome.output.strip().splitlines()[-1]
    assert re.fullmatch(r"[0-9a-f-]{36}", run_id) and run_id != analysed.run_id
    assert "premium_vs_basic_mean_completion" in outcome.output
    latest = sql(analysed.url, "select run_id::text from analysis.latest_run").iloc[0, 0]
    assert latest == run_id
    counts = sql(
        analysed.url, "select run_id::text, count(*) as n from analysis.results group by 1"
    ).set_index("run_id")["n"]
    assert counts[run_id] == counts[analysed.run_id]  # same data, same seed: the same rows


def test_cli_analyze_on_a_database_without_the_core_fails_with_a_clear_message(pg_env):
    from typer.testing import CliRunner

    from streamlytics.cli import app

    outcome = CliRunner().invoke(app, ["analyze", "--no-mongo"])
    assert outcome.exit_code == 1
    said = " ".join(outcome.output.split())  # the console wraps long lines
    assert "dbt models the analysis reads are not built" in said and "dbt build" in said
    assert sql(pg_env, "select to_regclass('analysis.runs') is null").iloc[0, 0]


def test_cli_called_twice_in_one_process_still_prints_its_error(pg_env, capsys):
    # CliRunner closes the stderr of each call; Prefect's console handler, bound on the first
    # call, used to write into that closed stream on the second, losing the error message, and
    # so did whatever Prefect logged in the process after the calls.
    import logging

    from typer.testing import CliRunner

    from streamlytics.cli import app

    for _ in range(2):
        outcome = CliRunner().invoke(app, ["analyze", "--no-mongo"])
        said = " ".join(outcome.output.split())
        assert outcome.exit_code == 1, said[-2000:]
        assert "dbt models the analysis reads are not built" in said
        assert "Logging error" not in said
    capsys.readouterr()
    logging.getLogger("prefect.streamlytics_test").warning("logged after the CLI calls")
    after = capsys.readouterr().err
    assert "logged after the CLI calls" in after and "Logging error" not in after
