"""Who watches in the last month of the log? A time-split retention model.

- Label ``watched_in_last_month``: the user has at least one session in the last calendar month
  of the log (the month of its last watch_date; August 2024 in the course data).
- Features come only from sessions before that month (the cutoff is its first day) and from
  what the profile says as of the cutoff: activity counts, minutes per session, completion,
  recency, the sessions of the 30 days before the cutoff, 4K and mobile shares, age, tenure.
  Left out as export-time snapshots that may reflect the target month: lifetime watch hours
  and the plan (the data hold no plan history, so the plan at the cutoff is unknown). Users
  registered on or after the cutoff are left out. Of features correlated above COLLINEAR_R
  (sessions and active days: r ≈ 0.99) only the first is kept, so odds ratios are not split
  between near-copies of one signal; total minutes enter as minutes per session.
- Baselines side by side: the base rate (every user gets the training share) and a one-feature
  logistic model on sessions_before. Each model reports AUC (DeLong CI), Brier skill score
  (1 − Brier / Brier of the base rate) and PR-AUC of the rarer class; the gain in AUC over the
  one-feature baseline has a paired DeLong CI judged against its SESOI (effect_sizes).
- Out of time: the models fitted at the previous month's start (label: watched in the month
  that followed) score users at the last cutoff (ana_user_retention_history).
- Evaluation on held-out users: stratified k-fold cross-validation (5 folds, or fewer when the
  minority class is small); every user's score comes from a model that never saw them. AUC with
  DeLong's 95 % CI, Brier score, calibration bins (quantiles of the predicted probability).
- Models: L2-penalised logistic regression on standardised features (coefficients with
  percentile bootstrap CIs over users) and a histogram gradient-boosting classifier
  (permutation importances on the held-out folds, as AUC lost).
- Guard: a cross-validated AUC above LEAKAGE_AUC with at least MIN_MINORITY users in each class
  raises LeakageSuspected: such a score on this kind of behavioural data means a feature knows
  the answer, and it is a bug to fix, not a result to report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit
from sklearn.calibration import calibration_curve
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from python_models.data import AnalysisData, retention_features, retention_history
from python_models.results import Result, judge

LEAKAGE_AUC = 0.95
MIN_MINORITY = 10
MAX_FOLDS = 5
CALIBRATION_BINS = 10
PERMUTATION_REPEATS = 3
Z95 = float(stats.norm.ppf(0.975))
FEATURES = (
    "sessions_before",
    "minutes_per_session_before",
    "mean_completion_before",
    "active_days_before",
    "days_since_last_session",
    "sessions_last_30_days",
    "share_4k_before",
    "share_mobile_before",
    "no_sessions_before",
    "age",
    "tenure_days_at_cutoff",
)


LABEL = "watched_in_last_month"
BASELINE_FEATURE = "sessions_before"
COLLINEAR_R = 0.9
EXCLUDED = {
    "lifetime_hours": "export-time snapshot, may include the target month",
    "plan": "export-time snapshot: the data hold no plan history, so the plan at the cutoff "
    "is unknown",
    "watch_minutes_before": "combined with sessions_before into minutes_per_session_before",
}


class LeakageSuspected(RuntimeError):
    """The retention model scores too well to be true: some feature carries the target."""


@dataclass(frozen=True)
class RetentionData:
    cutoff: pd.Timestamp
    end: pd.Timestamp
    frame: pd.DataFrame  # user_id, the FEATURES, retained (0/1)


@dataclass(frozen=True)
class Retention:
    results: list[Result]
    curves: list[dict[str, Any]]  # rows for analysis.series (ROC and calibration points)
    headline: dict[str, Any]


def cutoff_for(end: pd.Timestamp) -> pd.Timestamp:
    """First day of the month of the last watch date."""
    return pd.Timestamp(end.year, end.month, 1)


def features(users: pd.DataFrame, before: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Per-user features from `before` (per-user aggregates of the sessions strictly before
    `cutoff`, data.retention_features) and the profile.

    Raises ValueError if `before` reflects a session on or after the cutoff: the time split is
    the whole point, so it is checked rather than trusted.
    """
    if not before.empty and before["last_session"].max() >= cutoff:
        raise ValueError(
            f"feature sessions must end before the cutoff {cutoff.date()}, "
            f"found {before['last_session'].max().date()}"
        )
    eligible = users[users["registration_date"] < cutoff]
    out = eligible[["user_id", "plan", "age", "registration_date"]].merge(
        before, on="user_id", how="left"
    )
    out["no_sessions_before"] = out["sessions_before"].isna().astype(float)
    for col in (
        "sessions_before",
        "watch_minutes_before",
        "active_days_before",
        "sessions_last_30_days",
        "share_4k_before",
        "share_mobile_before",
    ):
        out[col] = out[col].fillna(0.0).astype(float)
    # Without sessions there is no completion: the mean of the others stands in, and the
    # no_sessions_before flag lets the model tell those users apart.
    out["minutes_per_session_before"] = np.where(
        out["sessions_before"] > 0,
        out["watch_minutes_before"] / out["sessions_before"].where(out["sessions_before"] > 0, 1),
        0.0,
    )
    out["mean_completion_before"] = out["mean_completion_before"].fillna(
        out["mean_completion_before"].mean()
    )
    since = out["last_session"].fillna(out["registration_date"])
    out["days_since_last_session"] = (cutoff - since).dt.days.astype(float)
    out["tenure_days_at_cutoff"] = (cutoff - out["registration_date"]).dt.days.astype(float)
    out["age"] = out["age"].astype(float)
    return out[["user_id", *FEATURES]].reset_index(drop=True)


def build(conn: Any, data: AnalysisData) -> RetentionData:
    """Features before the last month, target within it."""
    end = pd.Timestamp(data.data_end)
    cutoff = cutoff_for(end)
    before, retained = retention_features(conn, cutoff.date())
    frame = features(data.users, before, cutoff)
    frame["retained"] = frame["user_id"].isin(retained).astype(int)
    return RetentionData(cutoff, end, frame)


def build_history(conn: Any, data: AnalysisData) -> dict[pd.Timestamp, pd.DataFrame]:
    """Features and label (watched in the month starting at the cutoff) at each history cutoff."""
    out = {}
    for cutoff, (before, watched) in retention_history(conn).items():
        c = pd.Timestamp(cutoff)
        frame = features(data.users, before, c)
        frame["retained"] = frame["user_id"].isin(watched).astype(int)
        out[c] = frame
    return out


def drop_collinear(frame: pd.DataFrame, names: tuple[str, ...]) -> tuple[list[str], dict[str, Any]]:
    """The features kept (in order) and, for each one dropped, the kept one it nearly copies."""
    corr = frame[list(names)].corr().fillna(0.0)
    kept: list[str] = []
    dropped: dict[str, Any] = {}
    for f in names:
        twin = next((k for k in kept if abs(corr.loc[f, k]) > COLLINEAR_R), None)
        if twin is None:
            kept.append(f)
        else:
            dropped[f] = {"kept": twin, "r": float(corr.loc[f, twin])}
    return kept, dropped


def rare_class_pr_auc(y: np.ndarray, p: np.ndarray) -> tuple[str, float]:
    """PR-AUC (average precision) of the rarer class: the one a base rate hides."""
    if y.mean() <= 0.5:
        return "watched", float(average_precision_score(y, p))
    return "did not watch", float(average_precision_score(1 - y, 1 - p))


def skill(y: np.ndarray, p: np.ndarray, base: float) -> dict[str, float]:
    """Brier score, Brier of always predicting `base`, the skill score and the rare class PR-AUC."""
    brier = float(brier_score_loss(y, p))
    brier_base = float(np.mean((y - base) ** 2))
    rare, pr_auc = rare_class_pr_auc(y, p)
    return {
        "brier": brier,
        "brier_base_rate": brier_base,
        "brier_skill": 1 - brier / brier_base if brier_base > 0 else float("nan"),
        "pr_auc": pr_auc,
        "pr_auc_class": rare,
        "pr_auc_chance": float(y.mean() if rare == "watched" else 1 - y.mean()),
    }


def auc_gain_ci(y: np.ndarray, p: np.ndarray, q: np.ndarray) -> tuple[float, float, float]:
    """AUC(p) − AUC(q) on the same users and its 95 % CI by DeLong's paired variance.

    The two AUCs share users, so the variance of their difference subtracts the covariance of
    their structural components (DeLong, DeLong & Clarke-Pearson 1988).
    """
    p10, p01 = _delong_components(y, p)
    q10, q01 = _delong_components(y, q)
    m, n = p10.shape[0], p01.shape[0]
    s10, s01 = np.cov(p10, q10), np.cov(p01, q01)
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n
    gain = float(p10.mean() - q10.mean())
    se = float(np.sqrt(max(var, 0.0)))
    return gain, gain - Z95 * se, gain + Z95 * se


def _delong_components(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Structural components: for each positive, the share of negatives it outranks (ties ½),
    # and for each negative, the share of positives that outrank it.
    y = np.asarray(y).astype(bool)
    pos, neg = score[y], score[~y]
    m, n = pos.shape[0], neg.shape[0]
    all_ranks = stats.rankdata(np.concatenate([pos, neg]))
    v10 = (all_ranks[:m] - stats.rankdata(pos)) / n
    v01 = 1 - (all_ranks[m:] - stats.rankdata(neg)) / m
    return v10, v01


def delong_auc(y: np.ndarray, score: np.ndarray) -> tuple[float, float, float, float]:
    """AUC, its DeLong standard error and 95 % CI (normal, clipped to [0, 1])."""
    v10, v01 = _delong_components(y, score)
    m, n = v10.shape[0], v01.shape[0]
    auc = float(v10.mean())
    se = float(np.sqrt(np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n))
    return auc, se, max(0.0, auc - Z95 * se), min(1.0, auc + Z95 * se)


def _folds(y: np.ndarray, seed: int) -> StratifiedKFold:
    minority = int(min(np.bincount(y, minlength=2)))
    return StratifiedKFold(
        n_splits=max(2, min(MAX_FOLDS, minority)), shuffle=True, random_state=seed
    )


def _logistic() -> Any:
    return make_pipeline(
        StandardScaler(), LogisticRegression(C=1.0, solver="newton-cholesky", max_iter=200)
    )


def out_of_fold(
    x: np.ndarray, y: np.ndarray, seed: int, baseline: np.ndarray | None = None
) -> dict[str, Any]:
    """Held-out scores of both models (and, given the `baseline` feature column, of the
    one-feature and base-rate baselines), and the gradient-boosting permutation importances."""
    with threadpool_limits(limits=1):  # see fit(): OpenMP spinning on a small shared machine
        return _out_of_fold(x, y, seed, baseline)


def _out_of_fold(
    x: np.ndarray, y: np.ndarray, seed: int, baseline: np.ndarray | None = None
) -> dict[str, Any]:
    folds = _folds(y, seed)
    oof = {"logistic": np.zeros(y.shape[0]), "gradient_boosting": np.zeros(y.shape[0])}
    if baseline is not None:
        oof["baseline_sessions_before"] = np.zeros(y.shape[0])
        oof["baseline_base_rate"] = np.zeros(y.shape[0])
    importances = []
    for train, test in folds.split(x, y):
        lr = _logistic().fit(x[train], y[train])
        oof["logistic"][test] = lr.predict_proba(x[test])[:, 1]
        if baseline is not None:
            one = _logistic().fit(baseline[train, None], y[train])
            oof["baseline_sessions_before"][test] = one.predict_proba(baseline[test, None])[:, 1]
            oof["baseline_base_rate"][test] = y[train].mean()
        gb = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.05, random_state=seed)
        gb.fit(x[train], y[train])
        oof["gradient_boosting"][test] = gb.predict_proba(x[test])[:, 1]
        if len(np.unique(y[test])) == 2:
            imp = permutation_importance(
                gb,
                x[test],
                y[test],
                scoring="roc_auc",
                n_repeats=PERMUTATION_REPEATS,
                random_state=seed,
            )
            importances.append(imp.importances_mean)
    return {
        "scores": oof,
        "n_folds": folds.get_n_splits(),
        "gb_importance": np.mean(importances, axis=0)
        if importances
        else np.full(x.shape[1], np.nan),
    }


def standardised_logistic(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    start: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> np.ndarray:
    """Coefficients per SD of `_logistic()` fitted to the rows of x repeated w times.

    The same model as `_logistic().fit(np.repeat(x, w, axis=0), ...)`: features standardised by
    the weighted mean and population SD (a constant feature keeps scale 1), then
    Σ w·log-loss + ½‖β‖² (C = 1, intercept not penalised) minimised by Newton's method with step
    halving, to a step below `tol` (tighter than scikit-learn's default 1e-4 gradient tolerance).
    `start` is (intercept, coefficients) to warm-start from.
    """
    keep = w > 0
    x, y, w = x[keep], y[keep].astype(float), w[keep].astype(float)
    total = w.sum()
    mean = w @ x / total
    sd = np.sqrt(w @ (x - mean) ** 2 / total)
    sd[sd == 0] = 1.0
    z = np.column_stack([np.ones(x.shape[0]), (x - mean) / sd])
    penalty = np.ones(z.shape[1])
    penalty[0] = 0.0
    theta = np.zeros(z.shape[1]) if start is None else np.asarray(start, dtype=float).copy()

    def objective(t: np.ndarray) -> float:
        eta = z @ t
        return float(w @ (np.logaddexp(0.0, eta) - y * eta) + 0.5 * (penalty * t * t).sum())

    current = objective(theta)
    for _ in range(max_iter):
        p = expit(z @ theta)
        grad = z.T @ (w * (p - y)) + penalty * theta
        hess = z.T @ (z * (w * p * (1 - p))[:, None]) + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        scale = 1.0
        while True:
            candidate = theta - scale * step
            value = objective(candidate)
            if value <= current or scale < 1e-8:
                break
            scale /= 2
        theta, current = candidate, value
        if np.max(np.abs(scale * step)) < tol:
            break
    return theta


def coefficient_cis(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, n_boot: int
) -> tuple[np.ndarray, np.ndarray]:
    """Standardised logistic coefficients on all users and their percentile bootstrap 95 % CIs.

    A resample of users is a vector of counts, so each bootstrap fit is standardised_logistic
    with those counts as weights, warm-started from the fit on all users: no copied rows and no
    per-fit pipeline, which made 200 refits the slowest step of the analysis.
    """
    full = standardised_logistic(x, y, np.ones(y.shape[0], dtype=np.int64))
    draws = []
    for _ in range(n_boot):
        idx = rng.integers(0, y.shape[0], y.shape[0])
        if np.unique(y[idx]).shape[0] < 2:
            continue
        draws.append(
            standardised_logistic(x, y, np.bincount(idx, minlength=y.shape[0]), start=full)[1:]
        )
    coef = full[1:]
    ci = (
        np.percentile(np.asarray(draws), [2.5, 97.5], axis=0)
        if draws
        else np.full((2, coef.shape[0]), np.nan)
    )
    return coef, ci


def check_leakage(auc: float, y: np.ndarray, model: str) -> None:
    """Raise LeakageSuspected for an implausibly good AUC on enough users of each class."""
    if auc > LEAKAGE_AUC and int(min(np.bincount(y, minlength=2))) >= MIN_MINORITY:
        raise LeakageSuspected(
            f"retention model {model!r} reached a cross-validated AUC of {auc:.3f} (> {LEAKAGE_AUC}): "
            "a feature almost certainly carries the target (check that features use only sessions "
            "before the cutoff). This is treated as a bug, not a result."
        )


def calibration_points(y: np.ndarray, p: np.ndarray, model: str) -> list[dict[str, Any]]:
    """Observed retention rate against the mean predicted probability, per quantile bin."""
    observed, predicted = calibration_curve(y, p, n_bins=CALIBRATION_BINS, strategy="quantile")
    edges = np.unique(np.quantile(p, np.linspace(0, 1, CALIBRATION_BINS + 1)))
    counts = np.histogram(p, bins=edges)[0] if edges.shape[0] > 1 else np.array([p.shape[0]])
    counts = counts[counts > 0]
    return [
        {
            "series": f"retention_calibration_{model}",
            "measure": "observed_rate",
            "point_index": i,
            "x_label": f"bin {i + 1}",
            "x": float(pr),
            "y": float(ob),
            "n": int(counts[i]) if i < counts.shape[0] else None,
        }
        for i, (pr, ob) in enumerate(zip(predicted, observed))
    ]


def roc_points(y: np.ndarray, p: np.ndarray, model: str) -> list[dict[str, Any]]:
    fpr, tpr, thresholds = roc_curve(y, p)
    return [
        {
            "series": f"retention_roc_{model}",
            "measure": "tpr",
            "point_index": i,
            "x_label": f"{min(t, 1.0):.6f}",
            "x": float(f),
            "y": float(tp),
            "n": None,
        }
        for i, (f, tp, t) in enumerate(zip(fpr, tpr, thresholds))
    ]


def prepare(
    conn: Any, data: AnalysisData
) -> tuple[RetentionData, dict[pd.Timestamp, pd.DataFrame]]:
    """What the model is fitted on: the features at the cutoff and at each history cutoff,
    read from the warehouse. Apart from :func:`fit`, so the fitting can run where there is no
    connection (another process)."""
    return build(conn, data), build_history(conn, data)


def fit(
    rd: RetentionData,
    history: dict[pd.Timestamp, pd.DataFrame] | None,
    seed: int,
    n_boot: int = 200,
) -> Retention:
    """Fit, evaluate on held-out users, check for leakage, and report, from what
    :func:`prepare` read; no database access."""
    # One OpenMP thread: on a small shared machine, gradient boosting's thread pool spins
    # against other processes and runs 20× slower than single-threaded.
    with threadpool_limits(limits=1):
        return _run(rd, seed, n_boot, history)


MODEL_WORDS = {
    "logistic": "logistic model",
    "gradient_boosting": "gradient boosting",
    "baseline_sessions_before": "baseline: sessions before the cutoff alone",
    "baseline_base_rate": "baseline: the base rate for everyone",
}


def _auc_row(
    name: str, model: str, y: np.ndarray, p: np.ndarray, base: float, how: str, details: dict
) -> tuple[Result, dict[str, Any]]:
    auc, se, low, high = delong_auc(y, p)
    fit = skill(y, p, base)
    row = Result(
        section="retention",
        name=name,
        variables=f"{LABEL} ~ " + ", ".join(details.get("features_used", [])),
        statistic_name="auc",
        statistic=auc,
        effect_name="auc",
        effect=auc,
        ci_low=low,
        ci_high=high,
        n=int(y.shape[0]),
        interpretation=(
            f"{MODEL_WORDS.get(model, model).capitalize()}: AUC {auc:.3f} (95% CI [{low:.3f}, "
            f"{high:.3f}], DeLong), Brier skill {fit['brier_skill']:.1%} against the base rate, "
            f"PR-AUC {fit['pr_auc']:.3f} for '{fit['pr_auc_class']}' (chance "
            f"{fit['pr_auc_chance']:.3f}), {how}; n = {y.shape[0]:,} users."
        ),
        details={
            **details,
            "model": model,
            "evaluation": how,
            "auc_se": se,
            "ci": "DeLong, 95%",
            "auc_sklearn": float(roc_auc_score(y, p)) if np.ptp(p) > 0 else 0.5,
            **fit,
        },
    )
    return row, {"auc": auc, "ci_low": low, "ci_high": high, **fit}


def _out_of_time(
    history: dict[pd.Timestamp, pd.DataFrame], kept: list[str], seed: int
) -> tuple[list[Result], dict[str, Any]]:
    """Fit at the earlier cutoff, score the later one: the check a random split cannot give."""
    if len(history) < 2:
        return [], {}
    (train_cut, train), (test_cut, test) = sorted(history.items())[-2:]
    y_train, y_test = train["retained"].to_numpy(int), test["retained"].to_numpy(int)
    if min(np.bincount(y_train, minlength=2).min(), np.bincount(y_test, minlength=2).min()) < (
        MIN_MINORITY
    ):
        return [], {}
    x_train, x_test = train[kept].to_numpy(float), test[kept].to_numpy(float)
    base = float(y_train.mean())
    scores = {
        "logistic": _logistic().fit(x_train, y_train).predict_proba(x_test)[:, 1],
        "gradient_boosting": HistGradientBoostingClassifier(
            max_iter=100, learning_rate=0.05, random_state=seed
        )
        .fit(x_train, y_train)
        .predict_proba(x_test)[:, 1],
        "baseline_sessions_before": _logistic()
        .fit(train[[BASELINE_FEATURE]].to_numpy(float), y_train)
        .predict_proba(test[[BASELINE_FEATURE]].to_numpy(float))[:, 1],
        "baseline_base_rate": np.full(y_test.shape[0], base),
    }
    how = (
        f"fitted on {y_train.shape[0]:,} users at {train_cut.date()} (label: watched in that month), "
        f"scored on the month from {test_cut.date()}"
    )
    rows, head = [], {}
    for model, p in scores.items():
        row, fig = _auc_row(
            f"retention_auc_out_of_time_{model}",
            model,
            y_test,
            p,
            base,
            how,
            {
                "features_used": kept,
                "train_cutoff": str(train_cut.date()),
                "test_cutoff": str(test_cut.date()),
                "train_users": int(y_train.shape[0]),
            },
        )
        rows.append(row)
        head[model] = fig
        if not model.startswith("baseline_"):
            rows.append(
                gain_row(
                    f"retention_gain_out_of_time_over_baseline_{model}",
                    model,
                    y_test,
                    p,
                    scores["baseline_sessions_before"],
                    how,
                )
            )
    return rows, head


def gain_row(
    name: str, model: str, y: np.ndarray, p: np.ndarray, q: np.ndarray, how: str
) -> Result:
    """A model's AUC gain over sessions_before alone (scores `q`, the same users), paired DeLong
    CI, judged against the SESOI of an AUC gain: the verdict its AUC sentence carries."""
    gain, low, high = auc_gain_ci(y, p, q)
    # Neutral here: the verdict (results.judge) says whether the gain is one worth having.
    return judge(
        Result(
            section="retention",
            name=name,
            variables=f"AUC({model}) − AUC(sessions_before alone)",
            statistic_name="auc_gain",
            statistic=gain,
            effect_name="auc_gain",
            effect=gain,
            ci_low=low,
            ci_high=high,
            n=int(y.shape[0]),
            interpretation=(
                f"{MODEL_WORDS[model].capitalize()} against sessions before the cutoff alone "
                f"({how}): AUC gain {gain:+.3f} (95% CI [{low:+.3f}, {high:+.3f}], DeLong paired)."
            ),
            details={"ci": "DeLong paired, 95%", "baseline": BASELINE_FEATURE, "evaluation": how},
        )
    )


def _run(
    rd: RetentionData,
    seed: int,
    n_boot: int,
    history: dict[pd.Timestamp, pd.DataFrame] | None = None,
) -> Retention:
    y = rd.frame["retained"].to_numpy(dtype=int)
    kept, dropped = drop_collinear(rd.frame, FEATURES)
    x = rd.frame[kept].to_numpy(dtype=float)
    counts = np.bincount(y, minlength=2)
    setup = {
        "label": LABEL,
        "target": f"at least one session between {rd.cutoff.date()} and {rd.end.date()}",
        "features_from": f"sessions before {rd.cutoff.date()} and the profile at that day",
        "features": list(FEATURES),
        "features_used": kept,
        "dropped_collinear": dropped,
        "excluded": EXCLUDED,
        "users": int(y.shape[0]),
        "retained": int(counts[1]),
        "not_retained": int(counts[0]),
    }
    if int(counts.min()) < MIN_MINORITY:
        note = Result(
            section="retention",
            name="retention_not_evaluated",
            variables=f"{LABEL} ~ behaviour before cutoff",
            n=int(y.shape[0]),
            interpretation=(
                f"Too few users in one class to evaluate a retention model "
                f"({int(counts[1])} watched in the last month, {int(counts[0])} not; at least "
                f"{MIN_MINORITY} each needed)."
            ),
            details=setup,
        )
        return Retention([note], [], {"evaluated": False, **setup})
    baseline = rd.frame[BASELINE_FEATURE].to_numpy(dtype=float)
    oof = out_of_fold(x, y, seed, baseline)
    results: list[Result] = []
    curves: list[dict[str, Any]] = []
    headline: dict[str, Any] = {"evaluated": True, **setup, "n_folds": oof["n_folds"]}
    how = f"{oof['n_folds']}-fold cross-validation over users"
    base = float(y.mean())
    rng = np.random.default_rng(seed)
    for model, p in oof["scores"].items():
        if model in ("logistic", "gradient_boosting"):
            check_leakage(delong_auc(y, p)[0], y, model)
        row, fig = _auc_row(
            f"retention_auc_{model}", model, y, p, base, how, {**setup, "n_folds": oof["n_folds"]}
        )
        results.append(row)
        headline[f"auc_{model}"] = fig
        if model.startswith("baseline_"):
            continue
        results.append(
            Result(
                section="retention",
                name=f"retention_brier_{model}",
                variables=f"{LABEL} ~ predicted probability",
                statistic_name="brier",
                statistic=fig["brier"],
                n=int(y.shape[0]),
                interpretation=(
                    f"Brier score {fig['brier']:.4f} for {MODEL_WORDS[model]} against "
                    f"{fig['brier_base_rate']:.4f} for always predicting the base rate (lower is "
                    f"better; skill {fig['brier_skill']:.1%})."
                ),
                details={"base_rate": base, **fig},
            )
        )
        results.append(
            gain_row(
                f"retention_gain_over_baseline_{model}",
                model,
                y,
                p,
                oof["scores"]["baseline_sessions_before"],
                how,
            )
        )
        curves += roc_points(y, p, model) + calibration_points(y, p, model)
    oot_rows, oot_head = _out_of_time(history or {}, kept, seed)
    results += oot_rows
    if oot_head:
        headline["out_of_time"] = oot_head
    coef, ci = coefficient_cis(x, y, rng, n_boot)
    for i, feature in enumerate(kept):
        results.append(
            Result(
                section="retention",
                name=f"retention_logistic_coef_{feature}",
                variables=f"{LABEL} ~ {feature}",
                statistic_name="coef_per_sd",
                statistic=float(coef[i]),
                effect_name="odds_ratio_per_sd",
                effect=float(np.exp(coef[i])),
                ci_low=float(np.exp(ci[0, i])),
                ci_high=float(np.exp(ci[1, i])),
                n=int(y.shape[0]),
                interpretation=(
                    f"{feature}: odds of watching in the last month × {np.exp(coef[i]):.2f} per "
                    f"standard deviation, the other features held fixed (95% bootstrap CI "
                    f"[{np.exp(ci[0, i]):.2f}, {np.exp(ci[1, i]):.2f}]; L2-penalised)."
                ),
                details={
                    "coef_ci_low": float(ci[0, i]),
                    "coef_ci_high": float(ci[1, i]),
                    "n_boot": n_boot,
                    "penalty": "L2, C=1",
                    "dropped_collinear": dropped,
                },
            )
        )
        results.append(
            Result(
                section="retention",
                name=f"retention_gb_importance_{feature}",
                variables=f"{LABEL} ~ {feature}",
                statistic_name="permutation_importance_auc",
                statistic=float(oof["gb_importance"][i]),
                n=int(y.shape[0]),
                interpretation=(
                    f"{feature}: shuffling it on held-out users costs the gradient-boosting model "
                    f"{oof['gb_importance'][i]:.4f} AUC."
                ),
                details={"n_repeats": PERMUTATION_REPEATS, "averaged_over_folds": oof["n_folds"]},
            )
        )
    return Retention(results, curves, headline)
