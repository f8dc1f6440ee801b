"""What goes with a title's views? Ordinary least squares, one model per content type.

- movies:  views ~ production budget (millions of USD) + rating
- series:  views ~ seasons + episode length (minutes)
Assumptions checked on each fit: Breusch–Pagan for constant residual variance (reported;
coefficients always use HC3 heteroskedasticity-robust standard errors), Jarque–Bera for
normal residuals (reported; with tens of titles the t intervals lean on it), and the variance
inflation factor of each predictor (collinearity). Each slope is a result row with its 95 % CI;
each model a row with R², adjusted R² and its F test. The p-values of all rows of this section
are Holm-adjusted together.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.stats.diagnostic import het_breuschpagan
from statsmodels.stats.outliers_influence import variance_inflation_factor
from statsmodels.stats.stattools import jarque_bera

from python_models.correlations import correlation_result
from python_models.results import ALPHA, Result, fmt_p

# content type -> (predictor column -> (name in result rows, sentence words, divisor of the raw value))
MODELS: dict[str, dict[str, tuple[str, str, float]]] = {
    "movie": {
        "budget": ("budget_musd", "each extra million USD of budget", 1e6),
        "rating": ("rating", "each extra rating point", 1.0),
    },
    "series": {
        "seasons": ("seasons", "each extra season", 1.0),
        "length_minutes": ("episode_minutes", "each extra minute of episode length", 1.0),
    },
}
PLURAL = {"movie": "movies", "series": "series"}


def fit(
    frame: pd.DataFrame,
    predictors: dict[str, tuple[str, str, float]],
    alpha: float = ALPHA,
    outcome: str = "views",
    covariates: tuple[str, ...] = (),
) -> dict[str, Any]:
    """OLS of `outcome` on the predictors (scaled) and `covariates` (as they are), with the
    assumption checks and the covariance used."""
    x = pd.DataFrame(
        {spec[0]: frame[col].to_numpy(dtype=float) / spec[2] for col, spec in predictors.items()}
        | {c: frame[c].to_numpy(dtype=float) for c in covariates}
    )
    y = frame[outcome].to_numpy(dtype=float)
    design = sm.add_constant(x)
    plain = sm.OLS(y, design).fit()
    bp_lm, bp_p, _, _ = het_breuschpagan(plain.resid, design)
    jb, jb_p, _, _ = jarque_bera(plain.resid)
    # HC3 always: with tens to hundreds of titles and skewed views, a Breusch–Pagan test that
    # fails to reject is no evidence of constant variance; HC3 costs little when it holds.
    robust = True
    used = plain.get_robustcov_results(cov_type="HC3")
    vif = {
        c: float(variance_inflation_factor(design.to_numpy(), i))
        for i, c in enumerate(design.columns)
        if c != "const"
    }
    sd_y = float(np.std(y, ddof=1))
    scale = {c: float(np.std(x[c], ddof=1) / sd_y) for c in x.columns}
    standardised = {c: float(plain.params[c] * scale[c]) for c in x.columns}
    return {
        "fit": used,
        "plain": plain,
        "names": list(design.columns),
        "robust": robust,
        "checks": {
            "breusch_pagan_lm": float(bp_lm),
            "breusch_pagan_p": float(bp_p),
            "jarque_bera": float(jb),
            "jarque_bera_p": float(jb_p),
            "vif": vif,
        },
        "standardised": standardised,
        "scale": scale,
    }


def _rows(
    content_type: str,
    frame: pd.DataFrame,
    alpha: float,
    outcome: str = "views",
    covariates: tuple[str, ...] = (),
) -> list[Result]:
    predictors = dict(MODELS[content_type])
    if outcome != "views" and content_type == "movie":
        predictors["release_year"] = ("release_year", "each later release year", 1.0)
    model = fit(frame, predictors, alpha, OUTCOMES[outcome][0], covariates)
    word, outcome_words = OUTCOMES[outcome][1], OUTCOMES[outcome][2]
    res, names = model["fit"], model["names"]
    params, bse = np.asarray(res.params), np.asarray(res.bse)
    pvals, tvals, ci = (
        np.asarray(res.pvalues),
        np.asarray(res.tvalues),
        np.asarray(res.conf_int(alpha=0.05)),
    )
    plural = PLURAL[content_type]
    cov = "HC3 robust"
    formula = f"{word} ~ " + " + ".join([*(spec[0] for spec in predictors.values()), *covariates])
    common = {
        "model": formula,
        "outcome": OUTCOMES[outcome][0],
        "outcome_words": outcome_words,
        "covariates": list(covariates),
        "covariate_coefficients": {
            c: float(np.asarray(res.params)[names.index(c)]) for c in covariates
        },
        "covariance": cov,
        "checks": model["checks"],
        "r_squared": float(res.rsquared),
        "n": int(res.nobs),
        "alpha": alpha,
    }
    out = []
    for label, words, _ in predictors.values():
        i = names.index(label)
        coef, low, high = float(params[i]), float(ci[i][0]), float(ci[i][1])
        out.append(
            Result(
                section="regression",
                name=f"{plural}_{word}_on_{label}",
                variables=f"{word} ~ {label} ({plural})",
                statistic_name="t",
                statistic=float(tvals[i]),
                p_value=float(pvals[i]),
                effect_name=f"coef_{word}_per_unit",
                effect=coef,
                ci_low=low,
                ci_high=high,
                n=int(res.nobs),
                interpretation=(
                    f"{plural.capitalize()}: {words} goes with {coef:+,.1f} {word} "
                    f"(95% CI [{low:,.0f}, {high:,.0f}], {fmt_p(float(pvals[i]))}; OLS, {cov} SEs)."
                ),
                details={
                    **common,
                    "predictor": label,
                    "se": float(bse[i]),
                    "standardised_beta": model["standardised"][label],
                    # The CI on the standardised scale (slope × sd_x / sd_y), which the verdict
                    # compares with the SESOI of a standardised slope.
                    "standardised_ci": [low * model["scale"][label], high * model["scale"][label]],
                },
            )
        )
    const = names.index("const")
    plain = model["plain"]
    out.append(
        Result(
            section="regression",
            name=f"{plural}_{word}_model",
            variables=formula + f" ({plural})",
            statistic_name="F",
            statistic=float(np.squeeze(res.fvalue)),
            p_value=float(np.squeeze(res.f_pvalue)),
            effect_name="r_squared",
            effect=float(plain.rsquared),
            n=int(plain.nobs),
            interpretation=(
                f"{plural.capitalize()}: {', '.join(s[0] for s in predictors.values())} explain "
                f"{plain.rsquared:.1%} of the variance in {outcome_words} (adjusted R² "
                f"{plain.rsquared_adj:.3f}; "
                f"HC3 Wald F test {fmt_p(float(np.squeeze(res.f_pvalue)))})."
            ),
            details={
                **common,
                "adj_r_squared": float(plain.rsquared_adj),
                "intercept": float(params[const]),
                "intercept_ci": [float(ci[const][0]), float(ci[const][1])],
                "df": [float(plain.df_model), float(plain.df_resid)],
            },
        )
    )
    return out


# outcome key -> (column, word in result names, what it is)
OUTCOMES = {
    "views": ("views", "views", "views (content.json's static views counter)"),
    "sessions": ("session_count", "sessions", "sessions (observed in the session log)"),
}
MIN_GENRE_TITLES = 5


def genre_columns(frame: pd.DataFrame) -> tuple[str, ...]:
    """The genre indicator columns with at least MIN_GENRE_TITLES titles in and out of the genre."""
    return tuple(
        c
        for c in frame.columns
        if c.startswith("genre_")
        and MIN_GENRE_TITLES <= frame[c].sum() <= frame.shape[0] - MIN_GENRE_TITLES
    )


def reconcile(frame: pd.DataFrame, plural: str) -> Result:
    """How far the catalogue's views counter agrees with the sessions the log shows per title."""
    r = correlation_result(
        frame["views"].to_numpy(dtype=float),
        frame["session_count"].to_numpy(dtype=float),
        method="spearman",
        name=f"{plural}_views_vs_sessions",
        variables=f"views ~ session_count ({plural})",
        words=("the catalogue's views counter", "sessions observed in the log"),
        level="title",
    )
    return r.with_(section="regression")


def run(content: pd.DataFrame, alpha: float = ALPHA) -> list[Result]:
    """Per content type: views (the catalogue's counter) on the MODELS predictors; sessions
    observed per title on the same predictors plus release year (movies) and genre indicators;
    and how the two popularity measures agree (content is data.AnalysisData.content)."""
    out: list[Result] = []
    for content_type, predictors in MODELS.items():
        frame = content[content["content_type"] == content_type].dropna(
            subset=["views", *predictors]
        )
        if frame.shape[0] > len(predictors) + 2:
            out += _rows(content_type, frame, alpha)
        if "session_count" not in content:
            continue
        needed = [*predictors, "session_count"] + (
            ["release_year"] if content_type == "movie" else []
        )
        frame = content[content["content_type"] == content_type].dropna(subset=needed)
        genres = genre_columns(frame)
        if frame.shape[0] > len(needed) + len(genres) + 2:
            out += _rows(content_type, frame, alpha, "sessions", genres)
        if frame.shape[0] > 3:
            out.append(reconcile(frame, PLURAL[content_type]))
    return out
