"""Findings in plain words, templated from the persisted result rows of one analysis run.

No number and no verdict is written here: every figure in a sentence is a :class:`Quote` of a
field of a result row (a column such as ``effect`` or a path into ``details`` such as
``details.groups.Premium.median``), and every direction word ("higher", "no clear difference")
is chosen from the row's verdict and the sign of its effect. The page renders each quote with
the row and field it came from, so a test can check every quoted number against the database.
The only fixed words are how a result's subject is named (``SUBJECTS``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from python_models import effect_sizes

SUPPORTED = "supported"

# How a sentence names what a result is about (wording only; the numbers come from the row).
SUBJECTS = {
    "premium_vs_basic_watch_minutes": "Watch minutes per user in the session log",
    "premium_vs_basic_mean_completion": "Mean completion per user",
    "premium_vs_basic_lifetime_hours": "Lifetime watch hours",
    "premium_vs_basic_share_4k": "Share of a user's sessions streamed in 4K",
    "plan_mean_completion": "Mean completion per user across the three plans",
    "plan_4k_share": "Share of sessions streamed in 4K by plan",
    "quality_completion": "Completion per session across quality levels",
    "quality_completion_given_plan": "Completion per session by quality level once plan is held fixed",
    "device_completion": "Completion per session across devices",
    "weekday_daily_sessions": "Sessions per calendar day across weekdays",
    "weekday_watch_minutes": "Watch minutes per session across weekdays",
}

# What one unit of a regression predictor is, for "views per ...".
UNIT_WORDS = {
    "budget_musd": "million USD of budget",
    "rating": "rating point",
    "seasons": "season",
    "episode_minutes": "minute of episode length",
    "release_year": "release year",
}

PREDICTOR_WORDS = {"budget_musd": "budget", "episode_minutes": "episode length"}

VARIABLE_WORDS = {
    "age": "age",
    "watch_minutes": "watch minutes (session log)",
    "mean_completion": "mean completion",
    "lifetime_hours": "lifetime watch hours",
    "tenure_days": "tenure",
    "completion": "completion",
}


@dataclass(frozen=True)
class Quote:
    """One number (or word) taken from a result row, as shown on the page."""

    section: str
    name: str
    field: str
    value: Any
    text: str
    kind: str = "number"


Part = str | Quote


@dataclass(frozen=True)
class Finding:
    """A sentence (text and quotes) and, when the row has one, its verdict (a quote too)."""

    parts: tuple[Part, ...]
    verdict: Quote | None = None


# --- reading a row -------------------------------------------------------------------------------


def lookup(row: Mapping[str, Any], field: str) -> Any:
    """A column (``effect``) or a path into the details JSON (``details.groups.Premium.median``)."""
    head, _, rest = field.partition(".")
    value: Any = row.get(head)
    for key in rest.split(".") if rest else ():
        if isinstance(value, Mapping) and key in value:
            value = value[key]
        elif isinstance(value, (list, tuple)) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


def _finite(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def fmt_number(value: Any, digits: int) -> str:
    if not _finite(value):
        return "n/a"
    return f"{float(value):,.{digits}f}"


def fmt_p_value(value: Any) -> str:
    """'< 0.001' or the p-value to 3 decimals (the sentence supplies 'p = ' or 'p ')."""
    if not _finite(value):
        return "n/a"
    return "< 0.001" if float(value) < 0.001 else f"= {float(value):.3f}"


def quote(row: Mapping[str, Any], field: str, digits: int = 2, kind: str = "number") -> Quote:
    """A field of a row, formatted: number (fixed decimals), int, percent (0-1 as %), p, text."""
    value = lookup(row, field)
    if kind == "p":
        text = fmt_p_value(value)
    elif kind == "int":
        text = f"{int(value):,}" if _finite(value) else "n/a"
    elif kind == "percent":
        text = f"{float(value) * 100:.{digits}f}%" if _finite(value) else "n/a"
    elif kind in ("text", "verdict"):
        text = "n/a" if value is None else str(value)
    else:
        text = fmt_number(value, digits)
    return Quote(str(row.get("section")), str(row.get("name")), field, value, text, kind)


def p_field(row: Mapping[str, Any]) -> str:
    """The p-value a verdict rests on: the Holm-adjusted one when the run persisted it."""
    for field in ("p_adjusted", "details.p_adjusted"):
        if _finite(lookup(row, field)):
            return field
    return "p_value"


def _p_parts(row: Mapping[str, Any]) -> list[Part]:
    field = p_field(row)
    label = "Holm-adjusted p " if field != "p_value" else "p "
    return [label, quote(row, field, kind="p")]


def _small(row: Mapping[str, Any], digits: int) -> int:
    # A tiny effect (e.g. an eta² of 0.0003) would read as 0.000: show it with four decimals.
    effect = row.get("effect")
    return max(digits, 4) if _finite(effect) and abs(float(effect)) < 0.01 else digits


def _ci_parts(row: Mapping[str, Any], digits: int) -> list[Part]:
    if not (_finite(row.get("ci_low")) and _finite(row.get("ci_high"))):
        return []
    digits = _small(row, digits)
    return [", 95% CI [", quote(row, "ci_low", digits), ", ", quote(row, "ci_high", digits), "]"]


def _effect_parts(row: Mapping[str, Any], digits: int) -> list[Part]:
    if not _finite(row.get("effect")):
        return []
    name = str(row.get("effect_name") or "effect").replace("_", " ")
    return [f"{name} ", quote(row, "effect", _small(row, digits)), *_ci_parts(row, digits)]


def _tail(row: Mapping[str, Any], digits: int = 2) -> list[Part]:
    """'(effect e, 95% CI [l, h]; test, p; n = N)' as parts."""
    parts: list[Part] = [" ("]
    effect = _effect_parts(row, digits)
    if effect:
        parts += [*effect, "; "]
    test = lookup(row, "details.test")
    if test:
        parts += [quote(row, "details.test", kind="text"), ", "]
    parts += [*_p_parts(row), "; n = ", quote(row, "n", kind="int"), ")."]
    return parts


def _subject(row: Mapping[str, Any]) -> str:
    return SUBJECTS.get(str(row.get("name")), str(row.get("variables") or row.get("name")))


def _centre(row: Mapping[str, Any]) -> str:
    test = str(lookup(row, "details.test") or "")
    return "mean" if ("t test" in test or "ANOVA" in test or "Wald" in test) else "median"


def _supported(row: Mapping[str, Any]) -> bool:
    return effect_sizes.is_positive(row.get("verdict")) or row.get("verdict") == SUPPORTED


def positive(row: Mapping[str, Any]) -> bool:
    """True when the row's verdict names an effect of interest (difference, association, supported)."""
    return _supported(row)


def _say(row: Mapping[str, Any], positive_words: str, negligible: str, inconclusive: str) -> str:
    # The words of a verdict: an effect of interest, one too small to matter, or no telling yet.
    if _supported(row):
        return positive_words
    return negligible if row.get("verdict") == effect_sizes.NEGLIGIBLE else inconclusive


# --- one sentence per kind of result -------------------------------------------------------------


def group_order(row: Mapping[str, Any]) -> tuple[str, str]:
    """(first, second) group of a two-group test: the effect is first − second.

    The order is read from ``variables`` ('... (Premium vs Basic)'): a JSONB ``details`` object
    does not keep its keys in insertion order, so the groups' order there means nothing.
    """
    groups = list(lookup(row, "details.groups") or {})
    variables = str(row.get("variables") or "")
    if "(" in variables and " vs " in variables:
        inside = variables[variables.rfind("(") + 1 : variables.rfind(")")]
        a, _, b = inside.partition(" vs ")
        if a.strip() in groups and b.strip() in groups:
            return a.strip(), b.strip()
    return groups[0], groups[1]


def _level_order(levels: Iterable[str]) -> list[str]:
    # Plans and qualities in their natural order when the levels are those; otherwise sorted.
    levels = list(levels)
    for natural in (("Basic", "Standard", "Premium"), ("SD", "HD", "4K")):
        if set(levels) <= set(natural):
            return [x for x in natural if x in levels]
    return sorted(levels)


def two_groups(row: Mapping[str, Any]) -> Finding:
    """'Mean completion per user: Premium higher than Basic (median a vs b; effect ...).'"""
    a, b = group_order(row)
    centre = _centre(row)
    effect = row.get("effect")
    relation = _say(
        row,
        "higher than" if _finite(effect) and float(effect) > 0 else "lower than",
        "practically the same as",
        "not clearly different from",
    )
    digits, kind = _centre_format(row)
    parts: list[Part] = [
        f"{_subject(row)}: {a} users {relation} {b} users ({centre} ",
        quote(row, f"details.groups.{a}.{centre}", digits, kind),
        " vs ",
        quote(row, f"details.groups.{b}.{centre}", digits, kind),
        "; ",
    ]
    return Finding((*parts, *_tail(row)[1:]), verdict_of(row))


def _centre_format(row: Mapping[str, Any]) -> tuple[int, str]:
    # Shares (0-1) read better as percentages; everything else with one decimal.
    return (1, "percent") if str(row.get("variables", "")).startswith("share") else (1, "number")


def many_groups(row: Mapping[str, Any]) -> Finding:
    """'Completion across devices: no clear difference (medians A x, B y, ...; effect ...).'"""
    centre = _centre(row)
    groups = lookup(row, "details.groups") or {}
    ordered = sorted(groups, key=lambda g: (groups[g] or {}).get(centre) or 0.0)
    ladder: list[Part] = []
    for i, g in enumerate(ordered):
        ladder += [(" < " if i else "") + f"{g} ", quote(row, f"details.groups.{g}.{centre}", 1)]
    words = _say(row, "differs", "is practically the same", "shows no clear difference")
    parts: list[Part] = [f"{_subject(row)} {words} ({centre}s ", *ladder, "; "]
    return Finding((*parts, *_tail(row, 3)[1:]), verdict_of(row))


def association(row: Mapping[str, Any]) -> Finding:
    """'Share of sessions in 4K by plan: associated (4K share Basic a, ...; Cramér's V ...).'"""
    shares = lookup(row, "details.row_shares") or {}
    column = next((c for c in ("4K",) if all(c in (v or {}) for v in shares.values())), None)
    parts: list[Part] = [
        f"{_subject(row)}: "
        + _say(row, "associated", "practically no association", "no clear association")
    ]
    if column and shares:
        parts.append(f" ({column} share ")
        for i, level in enumerate(_level_order(shares)):
            parts += [
                (", " if i else "") + f"{level} ",
                quote(row, f"details.row_shares.{level}.{column}", 1, "percent"),
            ]
        parts.append("; ")
        return Finding((*parts, *_tail(row, 3)[1:]), verdict_of(row))
    return Finding((*parts, *_tail(row, 3)), verdict_of(row))


def adjusted(row: Mapping[str, Any]) -> Finding:
    words = _say(
        row,
        "completion still differs by quality",
        "quality goes with practically no difference in completion",
        "no clear difference by quality",
    )
    return Finding((f"{_subject(row)}: {words}", *_tail(row, 4)), verdict_of(row))


def not_computed(row: Mapping[str, Any]) -> Finding | None:
    """'<subject>: not computed — <why>.' for a row the analysis could not compute on this data."""
    if lookup(row, "details.not_computed") is None:
        return None
    return Finding(
        (
            f"{_subject(row)}: not computed — ",
            quote(row, "details.not_computed", kind="text"),
            " (n = ",
            quote(row, "n", kind="int"),
            ").",
        ),
        verdict_of(row),
    )


def hypothesis(row: Mapping[str, Any]) -> Finding:
    """The sentence for a hypothesis-test row, by the shape of its details."""
    missing = not_computed(row)
    if missing is not None:
        return missing
    groups = lookup(row, "details.groups")
    if (
        isinstance(groups, Mapping)
        and len(groups) == 2
        and row.get("effect_name") in ("hedges_g", "rank_biserial")
    ):
        return two_groups(row)
    if isinstance(groups, Mapping) and len(groups) > 1:
        return many_groups(row)
    if row.get("effect_name") == "cramers_v":
        return association(row)
    if row.get("effect_name") == "partial_eta_squared":
        return adjusted(row)
    return generic(row)


def _strength(r: float) -> str:
    a = abs(r)
    # "negligible" is a verdict word (effect_sizes): the point estimate alone is only "very weak".
    return "very weak" if a < 0.1 else "weak" if a < 0.3 else "moderate" if a < 0.5 else "strong"


def correlation(row: Mapping[str, Any]) -> Finding:
    missing = not_computed(row)
    if missing is not None:
        return missing
    x, y = (str(v).strip() for v in str(row.get("variables", " ~ ")).split("~", 1))
    words = (VARIABLE_WORDS.get(x, x.replace("_", " ")), VARIABLE_WORDS.get(y, y.replace("_", " ")))
    if lookup(row, "details.level") == "session":
        words = (f"per session, {x.replace('_', ' ')}", y.replace("_", " "))
    r = row.get("effect")
    method = str(lookup(row, "details.method") or "")
    if _supported(row) and _finite(r):
        relation = f"a {_strength(float(r))} {'positive' if float(r) > 0 else 'negative'} relation"
    else:
        relation = _say(row, "", "practically no relation", "no clear relation")
    if lookup(row, "details.definitional"):
        relation = "related by definition (" + str(lookup(row, "details.definitional")) + ")"
    parts: list[Part] = [
        f"{words[0].capitalize()} and {words[1]}: {relation} ({method.capitalize()} ",
        quote(row, "effect", 2),
        *_ci_parts(row, 2),
        "; ",
        *_p_parts(row),
        "; n = ",
        quote(row, "n", kind="int"),
        ").",
    ]
    return Finding(tuple(parts), verdict_of(row))


def clustering(rows_by_name: Mapping[str, Mapping[str, Any]]) -> list[Finding]:
    """The chosen k with its silhouette, and the k-means / Ward agreement."""
    out = []
    k = rows_by_name.get("kmeans_chosen_k")
    if k is not None and not_computed(k) is not None:
        return [not_computed(k)]  # type: ignore[list-item]
    if k is not None:
        parts: list[Part] = [
            "k-means splits ",
            quote(k, "details.users_clustered", kind="int"),
            " users with sessions into ",
            quote(k, "statistic", kind="int"),
            " groups, the k with the highest mean silhouette (",
            quote(k, "effect", 3),
            " on a sample of n = ",
            quote(k, "n", kind="int"),
            " users",
        ]
        if _finite(lookup(k, "details.null_silhouette_max")):
            parts += [
                "; the same users with each feature shuffled reach ",
                quote(k, "details.null_silhouette_max", 3),
            ]
        if _finite(lookup(k, "details.refit_ari_median")):
            parts += [
                "; refits on resampled users agree with median adjusted Rand index ",
                quote(k, "details.refit_ari_median", 2),
            ]
        parts.append(")")
        if lookup(k, "details.structure"):
            parts += [": ", quote(k, "details.structure", kind="text")]
        parts.append(".")
        out.append(Finding(tuple(parts)))
    ari = rows_by_name.get("kmeans_vs_ward_ari")
    if ari is not None:
        value = ari.get("effect")
        level = (
            ("closely" if value >= 0.8 else "moderately" if value >= 0.5 else "weakly")
            if _finite(value)
            else ""
        )
        out.append(
            Finding(
                (
                    f"Ward's hierarchical clustering agrees {level} with k-means: adjusted Rand index ",
                    quote(ari, "effect", 2),
                    *_ci_parts(ari, 2),
                    " on ",
                    quote(ari, "n", kind="int"),
                    " sampled users (1 = the same partition, 0 = chance).",
                )
            )
        )
    return out


def retention(row: Mapping[str, Any], gain: Mapping[str, Any] | None = None) -> Finding:
    """AUC of one model (or baseline) with its CI, Brier skill against the base rate and the rare
    class's PR-AUC, and how it was evaluated (held-out users, or the next month out of time).

    With `gain` (the model's AUC gain over sessions_before alone, evaluated the same way, judged
    against the SESOI of an AUC gain) the sentence ends with what that gain says, in the verdict's
    words, and carries its verdict. A baseline has no gain row: it is the reference the models'
    gains are measured from, and says so.
    """
    model = str(row.get("name", "")).removeprefix("retention_auc_")
    out_of_time = model.startswith("out_of_time_")
    model = model.removeprefix("out_of_time_").replace("_", " ")
    parts: list[Part] = [
        f"Retention ({'out of time' if out_of_time else 'cross-validated'}), {model}: AUC ",
        quote(row, "effect", 3),
        *_ci_parts(row, 3),
        " on ",
        quote(row, "n", kind="int"),
        " users of the next month" if out_of_time else " held-out users",
    ]
    if _finite(lookup(row, "details.brier_skill")):
        parts += [
            "; Brier skill ",
            quote(row, "details.brier_skill", 1, "percent"),
            " over always predicting the base rate",
        ]
    elif _finite(lookup(row, "details.brier")) and _finite(lookup(row, "details.brier_base_rate")):
        parts += [
            "; Brier score ",
            quote(row, "details.brier", 4),
            " against ",
            quote(row, "details.brier_base_rate", 4),
            " for always predicting the base rate",
        ]
    if _finite(lookup(row, "details.pr_auc")):
        parts += [
            "; PR-AUC ",
            quote(row, "details.pr_auc", 3),
            " for '",
            quote(row, "details.pr_auc_class", kind="text"),
            "' (chance ",
            quote(row, "details.pr_auc_chance", 3),
            ")",
        ]
    if gain is not None:
        parts += ["; ", *_gain_parts(gain)]
    elif model.startswith("baseline"):
        parts.append("; a baseline, the reference the models' AUC gains are measured from")
    parts.append(".")
    return Finding(tuple(parts), verdict_of(gain if gain is not None else row))


def _gain_parts(row: Mapping[str, Any]) -> list[Part]:
    # What a judged AUC gain over sessions_before alone says, in its verdict's words.
    words = _say(
        row,
        "ranks users "
        + ("better" if _finite(row.get("effect")) and float(row["effect"]) > 0 else "worse")
        + " than sessions before the cutoff alone",
        "ranks users practically as well as sessions before the cutoff alone",
        "cannot be told apart from sessions before the cutoff alone",
    )
    return [f"{words} (AUC gain ", quote(row, "effect", 3), *_ci_parts(row, 3), ")"]


def retention_findings(rows: list[dict[str, Any]]) -> list[Finding]:
    """One sentence per retention AUC row (cross-validated, then out of time), each model's with
    the verdict of its AUC gain over sessions_before alone evaluated the same way
    (retention_gain_over_baseline_<model>, retention_gain_out_of_time_over_baseline_<model>)."""
    named = {str(r.get("name")): r for r in rows}
    out = []
    for r in rows:
        name = str(r.get("name"))
        if not name.startswith("retention_auc_"):
            continue
        model = name.removeprefix("retention_auc_")
        gain = (
            f"retention_gain_out_of_time_over_baseline_{model.removeprefix('out_of_time_')}"
            if model.startswith("out_of_time_")
            else f"retention_gain_over_baseline_{model}"
        )
        out.append(retention(r, named.get(gain)))
    return out


def _outcome(row: Mapping[str, Any]) -> str:
    # Which popularity measure a regression row models (details.outcome_words), views by default.
    return str(lookup(row, "details.outcome_words") or "views")


def regression(row: Mapping[str, Any]) -> Finding:
    """A slope ('views rise by b per unit of x', judged on its standardised slope) or a model's R²."""
    missing = not_computed(row)
    if missing is not None:
        return missing
    variables = str(row.get("variables", ""))
    plural = (
        variables[variables.rfind("(") + 1 : variables.rfind(")")] if "(" in variables else "titles"
    )
    outcome = _outcome(row)
    if row.get("effect_name") in ("spearman_rho", "pearson_r"):
        # The two popularity measures side by side: the catalogue's counter and the log's sessions.
        relation = _say(
            row,
            "they go together",
            "practically unrelated",
            "no clear relation",
        )
        return Finding(
            (
                (
                    f"{plural.capitalize()}: the catalogue's views counter and the sessions "
                    f"observed in the log per title — {relation} (Spearman ρ "
                ),
                quote(row, "effect", 2),
                *_ci_parts(row, 2),
                "; n = ",
                quote(row, "n", kind="int"),
                " titles).",
            ),
            verdict_of(row),
        )
    if row.get("effect_name") == "r_squared":
        return Finding(
            (
                f"{plural.capitalize()}: the model {variables.split(' (')[0]} explains R² = ",
                quote(row, "effect", 3),
                f" of the variance in {outcome} (HC3 Wald F test, ",
                *_p_parts(row),
                "; n = ",
                quote(row, "n", kind="int"),
                ").",
            ),
            verdict_of(row),
        )
    predictor = str(
        lookup(row, "details.predictor") or variables.split("~")[-1].split("(")[0].strip()
    )
    effect = row.get("effect")
    pname = PREDICTOR_WORDS.get(predictor, predictor.replace("_", " "))
    short = outcome.split(" (")[0]
    words = _say(
        row,
        f"{short} {'rise' if _finite(effect) and float(effect) > 0 else 'fall'} with {pname}",
        f"{short} are practically unrelated to {pname}",
        f"no clear relation between {short} and {pname}",
    )
    unit = UNIT_WORDS.get(predictor, f"unit of {predictor.replace('_', ' ')}")
    parts: list[Part] = [
        f"{plural.capitalize()}: {words} (",
        quote(row, "effect", 0 if abs(float(effect or 0)) >= 10 else 2),
        f" {short} per {unit}",
        *_ci_parts(row, 0 if abs(float(effect or 0)) >= 10 else 2),
    ]
    if _finite(lookup(row, "details.standardised_beta")):
        parts += ["; standardised slope ", quote(row, "details.standardised_beta", 2)]
        if _finite(lookup(row, "details.standardised_ci.0")):
            parts += [
                " [",
                quote(row, "details.standardised_ci.0", 2),
                ", ",
                quote(row, "details.standardised_ci.1", 2),
                "]",
            ]
    parts += ["; ", *_p_parts(row), "; n = ", quote(row, "n", kind="int"), ")."]
    return Finding(tuple(parts), verdict_of(row))


def file_quality(row: Mapping[str, Any]) -> Finding:
    """One loaded file: read, reached the core, refused at ingest and at staging, reconciled or not."""
    return Finding(
        (
            quote(row, "variables", kind="text"),
            ": ",
            quote(row, "n", kind="int"),
            " records read, ",
            quote(row, "details.rows_in_core", kind="int"),
            " reached the core, ",
            quote(row, "details.rows_quarantined_at_ingest", kind="int"),
            " refused at ingest and ",
            quote(row, "details.rows_quarantined_at_staging", kind="int"),
            " in dbt staging (",
            quote(row, "effect", 2, "percent"),
            " refused).",
        ),
        verdict_of(row),
    )


def seed_claim(row: Mapping[str, Any]) -> list[Finding]:
    """A seed claim's verdict, then one sentence per part: supported or not, its effect, p and why."""
    out = [
        Finding(
            (
                "Claim: “",
                quote(row, "variables", kind="text"),
                "”: ",
                quote(row, "statistic", kind="int"),
                " of ",
                quote(row, "n", kind="int"),
                " parts supported (intersection–union p ",
                quote(row, "p_value", kind="p"),
                ").",
            ),
            verdict_of(row),
        )
    ]
    for i, part in enumerate(lookup(row, "details.parts") or []):
        parts: list[Part] = [quote(row, f"details.parts.{i}.claim", kind="text"), ": "]
        if part.get("evidence") is None:
            parts.append("not computed")
        else:
            parts += [
                "effect ",
                quote(row, f"details.parts.{i}.effect", 3),
                *(
                    [
                        " (95% CI [",
                        quote(row, f"details.parts.{i}.ci.0", 3),
                        ", ",
                        quote(row, f"details.parts.{i}.ci.1", 3),
                        "] against the smallest effect of interest ",
                        quote(row, f"details.parts.{i}.sesoi", 3),
                        ")",
                    ]
                    if _finite(lookup(row, f"details.parts.{i}.ci.0"))
                    and _finite(lookup(row, f"details.parts.{i}.sesoi"))
                    else []
                ),
                ", Holm-adjusted p ",
                quote(row, f"details.parts.{i}.p_adjusted", kind="p"),
                " (evidence ",
                quote(row, f"details.parts.{i}.evidence", kind="text"),
                ")",
            ]
        parts += [" — ", quote(row, f"details.parts.{i}.why", kind="text"), "."]
        out.append(
            Finding(
                tuple(parts),
                quote(row, f"details.parts.{i}.verdict", kind="verdict")
                if lookup(row, f"details.parts.{i}.verdict") is not None
                else Quote(
                    str(row.get("section")),
                    str(row.get("name")),
                    f"details.parts.{i}.supported",
                    bool(part.get("supported")),
                    SUPPORTED if part.get("supported") else "not supported",
                    "verdict",
                ),
            )
        )
    return out


def generic(row: Mapping[str, Any]) -> Finding:
    """Any other row: its subject, statistic, effect, p and n as persisted."""
    missing = not_computed(row)
    if missing is not None:
        return missing
    parts: list[Part] = [f"{_subject(row)}:"]
    if _finite(row.get("statistic")) and row.get("statistic_name"):
        parts += [f" {str(row['statistic_name']).replace('_', ' ')} ", quote(row, "statistic", 3)]
    effect = _effect_parts(row, 3)
    if effect and row.get("effect_name") != row.get("statistic_name"):
        parts += [";" if len(parts) > 1 else "", " ", *effect]
    elif effect:
        parts += _ci_parts(row, 3)
    if _finite(row.get("p_value")):
        parts += ["; ", *_p_parts(row)]
    if _finite(row.get("n")):
        parts += ["; n = ", quote(row, "n", kind="int")]
    parts.append(".")
    return Finding(tuple(parts), verdict_of(row))


def verdict_of(row: Mapping[str, Any]) -> Quote | None:
    """The row's verdict as a quote, or None when the row has none (e.g. a descriptive figure)."""
    return quote(row, "verdict", kind="verdict") if row.get("verdict") else None


# --- the findings of a run -----------------------------------------------------------------------


def rows(results: pd.DataFrame, section: str) -> list[dict[str, Any]]:
    """The rows of one section as dicts (NaN as None), in persisted order."""
    part = results[results["section"] == section]
    return [{k: (None if _is_nan(v) else v) for k, v in r.items()} for r in part.to_dict("records")]


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def by_name(results: pd.DataFrame) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for s in results["section"].unique() for r in rows(results, s)}


def hypothesis_findings(results: pd.DataFrame, section: str = "hypothesis") -> list[Finding]:
    """One sentence per hypothesis test, in persisted order."""
    return [hypothesis(row) for row in rows(results, section)]


def correlation_findings(
    results: pd.DataFrame, section: str = "correlation"
) -> tuple[list[Finding], list[str]]:
    """A sentence for each pair that is not plainly negligible (both methods), and the pairs that are.

    A pair is only named as practically unrelated when every method's verdict is negligible (its
    CI inside ±SESOI); an association, an inconclusive pair (the data cannot tell), a definitional
    or a not-computed one gets its sentences. The figures are in the correlation table and heatmap.
    """
    by_pair: dict[str, list[dict[str, Any]]] = {}
    for row in rows(results, section):
        by_pair.setdefault(str(row.get("variables")), []).append(row)
    related, unrelated = [], []
    for pair, pair_rows in by_pair.items():
        if not all(r.get("verdict") == effect_sizes.NEGLIGIBLE for r in pair_rows):
            related += [correlation(r) for r in pair_rows]
        else:
            x, _, y = pair.partition(" ~ ")
            unrelated.append(f"{VARIABLE_WORDS.get(x, x)} & {VARIABLE_WORDS.get(y, y)}")
    return related, unrelated


# --- the few findings that matter most, for a manager ----------------------------------------------

HEADLINE_SECTIONS = ("hypothesis", "correlation", "regression")
HEADLINE_MIN = 3


def _headline_candidate(row: Mapping[str, Any]) -> bool:
    return (
        row.get("section") in HEADLINE_SECTIONS
        and lookup(row, "details.not_computed") is None
        and not lookup(row, "details.definitional")
        and effect_sizes.magnitude(row) is not None
        and row.get("verdict") is not None
    )


def _ci_width(row: Mapping[str, Any]) -> float:
    low, high = row.get("ci_low"), row.get("ci_high")
    return float(high) - float(low) if _finite(low) and _finite(high) else math.inf


def _plain_relation(row: Mapping[str, Any], positive: bool) -> list[Part]:
    """What the row says, in words a manager reads (no causal verb: 'goes with', 'higher than')."""
    subject = _subject(row)
    effect = row.get("effect")
    up = _finite(effect) and float(effect) > 0
    groups = lookup(row, "details.groups")
    name = row.get("effect_name")
    if isinstance(groups, Mapping) and len(groups) == 2 and name in ("hedges_g", "rank_biserial"):
        a, b = group_order(row)
        centre = _centre(row)
        digits, kind = _centre_format(row)
        relation = ("higher than" if up else "lower than") if positive else "about the same as"
        return [
            f"{subject}: {a} users {relation} {b} users ({centre} ",
            quote(row, f"details.groups.{a}.{centre}", digits, kind),
            " vs ",
            quote(row, f"details.groups.{b}.{centre}", digits, kind),
            ")",
        ]
    if isinstance(groups, Mapping) and len(groups) > 1:
        centre = _centre(row)
        ordered = sorted(groups, key=lambda g: (groups[g] or {}).get(centre) or 0.0)
        words = "differs between groups" if positive else "is about the same in every group"
        return [
            f"{subject} {words} ({centre} from {ordered[0]} ",
            quote(row, f"details.groups.{ordered[0]}.{centre}", 1),
            f" to {ordered[-1]} ",
            quote(row, f"details.groups.{ordered[-1]}.{centre}", 1),
            ")",
        ]
    if row.get("section") == "correlation":
        x, _, y = str(row.get("variables", "")).partition(" ~ ")
        x_words, y_words = (
            VARIABLE_WORDS.get(x, x.replace("_", " ")),
            VARIABLE_WORDS.get(y.strip(), y.strip().replace("_", " ")),
        )
        if positive:
            relation = (
                f"users with more {x_words} tend to have {'more' if up else 'less'} {y_words}"
            )
        else:
            relation = f"{x_words} and {y_words} are practically unrelated"
        return [relation[0].upper() + relation[1:]]
    if row.get("section") == "regression":
        predictor = str(lookup(row, "details.predictor") or row.get("variables", ""))
        words = PREDICTOR_WORDS.get(predictor, predictor.replace("_", " "))
        outcome = str(lookup(row, "details.outcome_words") or "views")
        variables = str(row.get("variables", ""))
        plural = (
            variables[variables.rfind("(") + 1 : variables.rfind(")")]
            if "(" in variables
            else "titles"
        )
        if positive:
            return [
                f"{plural.capitalize()} with more {words} have {'more' if up else 'fewer'} {outcome}"
            ]
        return [f"{plural.capitalize()}: {outcome} are practically unrelated to {words}"]
    relation = "differs" if positive else "is about the same"
    return [f"{subject} {relation}"]


def plain_finding(row: Mapping[str, Any]) -> Finding:
    """One result in plain words: what differs or goes together, how much (size word), and n.

    The size word (small / medium / large) is effect_sizes.size_word of the row's magnitude on the
    common correlation-like scale; a negligible row says that the difference or relation is below
    the smallest effect of interest (effect_sizes.SESOI).
    """
    positive = _supported(row)
    r = effect_sizes.magnitude(row) or 0.0
    kind = (
        "difference"
        if row.get("effect_name") in effect_sizes.DIFFERENCE_FAMILIES
        else "association"
    )
    if positive:
        size = f" — a {effect_sizes.size_word(r)} {kind}"
    elif row.get("verdict") == effect_sizes.NEGLIGIBLE:
        size = f" — any {kind} is smaller than the smallest one worth acting on"
    else:
        size = " — the data cannot tell yet"
    name = str(row.get("effect_name") or "effect").replace("_", " ")
    return Finding(
        (
            *_plain_relation(row, positive),
            size,
            f" ({name} ",
            quote(row, "effect", _small(row, 2)),
            *_ci_parts(row, 2),
            "; n = ",
            quote(row, "n", kind="int"),
            ").",
        ),
        verdict_of(row),
    )


def question(row: Mapping[str, Any]) -> tuple[str, Any]:
    """Which question a row answers, for headline_findings' one finding per question.

    A group comparison (section hypothesis) answers "do these groups differ?": its question is
    the grouping on the right of "~" (the first term, parenthetical dropped), whatever the outcome
    — Premium vs Basic on minutes, completion, hours and 4K share, the three plans on completion
    and plan × 4K are all the plan question; quality given plan is the quality question. Any other
    row (a correlation, a regression slope) relates two variables: its question is the unordered
    pair, so Pearson and Spearman of one pair are one question. A row without "~" in its
    variables is a question of its own.
    """
    outcome, tilde, right = str(row.get("variables", "")).partition(" ~ ")
    if not tilde:
        return ("row", row.get("name"))
    right = right.split(" (")[0]
    if row.get("section") == "hypothesis":
        return ("groups", right.split(" + ")[0].strip())
    return ("pair", frozenset((outcome.strip(), right.strip())))


def _one_per_question(ranked: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Keep the first (higher-ranked) row of each question.
    seen: set[tuple[str, Any]] = set()
    out = []
    for r in ranked:
        key = question(r)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def headline_findings(results: pd.DataFrame, limit: int = 5) -> list[Finding]:
    """The three to five findings that matter most, most important first, in plain words.

    Ranked by effect size on one scale for every family (effect_sizes.magnitude: |r|, |ρ|,
    |rank-biserial|, Cramér's V and standardised slopes as they are, Hedges g as g/√(g²+4), ε²,
    η² and partial η² as their square root): first the effects of interest (verdict difference or
    association), largest first; when there are fewer than three, the firmest negligible results
    (narrowest interval) follow, since "no difference worth acting on" is news too. At most one
    finding per question (`question`: the same grouping of users, e.g. every plan contrast, or
    the same pair of variables), the highest-ranked, so five phrasings of one contrast never fill
    the summary; a negligible result fills in only for a question no effect of interest answers.
    Inconclusive rows, rows not computed and definitional relations are never headlines.
    """
    candidates = [r for s in HEADLINE_SECTIONS for r in rows(results, s) if _headline_candidate(r)]
    positive = sorted(
        (r for r in candidates if _supported(r)),
        key=lambda r: -(effect_sizes.magnitude(r) or 0.0),
    )
    negligible = sorted(
        (r for r in candidates if r.get("verdict") == effect_sizes.NEGLIGIBLE), key=_ci_width
    )
    positive = _one_per_question(positive)
    answered = {question(r) for r in positive}
    negligible = [r for r in _one_per_question(negligible) if question(r) not in answered]
    chosen = positive[:limit]
    if len(chosen) < min(HEADLINE_MIN, limit):
        chosen += negligible[: min(HEADLINE_MIN, limit) - len(chosen)]
    return [plain_finding(r) for r in chosen]
