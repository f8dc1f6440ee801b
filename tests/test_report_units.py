"""Pure logic of the report (no database): sentences follow the values, tables format them, charts draw.

The end-to-end behaviour (real data, real Chromium) is in test_report.py.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import numpy as np
import pandas as pd

from python_models.report import build, charts, findings, tables
from python_models.report.analysis_run import AnalysisRun


def _two_group_row(effect: float, verdict: str, **details: Any) -> dict[str, Any]:
    return {
        "section": "hypothesis",
        "name": "premium_vs_basic_mean_completion",
        "variables": "mean_completion ~ plan (Premium vs Basic)",
        "statistic_name": "U",
        "statistic": 10.0,
        "p_value": 0.001,
        "p_adjusted": 0.004,
        "effect_name": "rank_biserial",
        "effect": effect,
        "ci_low": effect - 0.1,
        "ci_high": effect + 0.1,
        "n": 150,
        "verdict": verdict,
        # Keys deliberately in the "wrong" order: JSONB does not keep insertion order.
        "details": {
            "groups": {"Basic": {"median": 67.84}, "Premium": {"median": 87.91}},
            "test": "Mann-Whitney U test",
            **details,
        },
    }


def _text(finding: findings.Finding) -> str:
    return "".join(p if isinstance(p, str) else p.text for p in finding.parts)


def test_two_group_sentence_direction_follows_the_sign_and_the_verdict() -> None:
    assert "Premium users higher than Basic users" in _text(
        findings.hypothesis(_two_group_row(0.8, "supported"))
    )
    assert "Premium users lower than Basic users" in _text(
        findings.hypothesis(_two_group_row(-0.8, "supported"))
    )
    unclear = _text(findings.hypothesis(_two_group_row(0.8, "not supported")))
    assert "not clearly different from" in unclear


def test_group_order_is_read_from_the_variables_not_the_json_key_order() -> None:
    finding = findings.hypothesis(_two_group_row(0.8, "supported"))
    centres = [
        p
        for p in finding.parts
        if isinstance(p, findings.Quote) and p.field.startswith("details.groups")
    ]
    assert [c.field for c in centres] == [
        "details.groups.Premium.median",
        "details.groups.Basic.median",
    ]
    assert [c.text for c in centres] == ["87.9", "67.8"]


def test_every_number_of_a_sentence_is_a_quote_of_its_row() -> None:
    row = _two_group_row(0.81234, "supported")
    finding = findings.hypothesis(row)
    quotes = [p for p in finding.parts if isinstance(p, findings.Quote)]
    assert {q.field for q in quotes} >= {"effect", "ci_low", "ci_high", "p_adjusted", "n"}
    for q in quotes:
        assert q.name == row["name"] and q.value == findings.lookup(row, q.field)
    plain = "".join(p for p in finding.parts if isinstance(p, str))
    assert not any(ch.isdigit() for ch in plain.replace("95%", "")), plain
    assert finding.verdict is not None and finding.verdict.text == "supported"


def test_p_values_are_quoted_adjusted_when_persisted_and_formatted_like_the_tables() -> None:
    row = _two_group_row(0.5, "supported")
    assert findings.p_field(row) == "p_adjusted"
    assert findings.p_field({**row, "p_adjusted": None}) == "p_value"
    assert findings.fmt_p_value(0.0004) == "< 0.001" and findings.fmt_p_value(0.0345) == "= 0.035"
    assert tables.p_cell(0.0345) == "0.035" and tables.p_cell(None) == "n/a"


def test_lookup_reads_nested_details_lists_and_misses_quietly() -> None:
    row = {"details": {"parts": [{"claim": "a", "effect": 0.2}, {"claim": "b"}]}, "n": 3}
    assert findings.lookup(row, "details.parts.0.effect") == 0.2
    assert findings.lookup(row, "details.parts.1.claim") == "b"
    assert findings.lookup(row, "details.parts.2.claim") is None
    assert findings.lookup(row, "details.nothing.here") is None
    assert findings.lookup(row, "n") == 3


def test_seed_claim_parts_carry_their_own_verdicts() -> None:
    row = {
        "section": "seed_finding",
        "name": "seed_claim_1",
        "variables": "longer tenure, more watching",
        "statistic": 1.0,
        "n": 2,
        "p_value": 0.4,
        "verdict": "not supported",
        "details": {
            "parts": [
                {
                    "evidence": "x",
                    "claim": "part one",
                    "supported": True,
                    "effect": 0.3,
                    "p_adjusted": 0.001,
                    "why": "ok",
                },
                {"evidence": None, "claim": "part two", "supported": False, "why": "not computed"},
            ]
        },
    }
    head, one, two = findings.seed_claim(row)
    assert head.verdict.text == "not supported" and "1 of 2 parts supported" in _text(head)
    assert one.verdict.text == "supported" and one.verdict.field == "details.parts.0.supported"
    assert two.verdict.text == "not supported" and "not computed" in _text(two)


def test_retention_sentences_carry_the_verdict_of_the_gain_over_the_one_feature_baseline() -> None:
    # Cross-validated, the model is a near-copy of the baseline (gain negligible); out of time it
    # ranks far better (a difference): each AUC sentence carries the verdict of its own gain.
    from python_models import retention_model as rm

    rng = np.random.default_rng(4)
    y = (rng.random(4000) < 0.3).astype(int)
    from scipy.special import expit

    noise = rng.normal(0, 1.0, y.shape[0])
    baseline = expit(y + noise)
    near_copy = expit(y + noise + rng.normal(0, 0.01, y.shape[0]))
    better = expit(y + rng.normal(0, 0.3, y.shape[0]))
    rows = [
        rm._auc_row("retention_auc_logistic", "logistic", y, near_copy, 0.3, "cv", {})[0],
        rm.gain_row(
            "retention_gain_over_baseline_logistic", "logistic", y, near_copy, baseline, "cv"
        ),
        rm._auc_row(
            "retention_auc_baseline_sessions_before",
            "baseline_sessions_before",
            y,
            baseline,
            0.3,
            "cv",
            {},
        )[0],
        rm._auc_row("retention_auc_out_of_time_logistic", "logistic", y, better, 0.3, "oot", {})[0],
        rm.gain_row(
            "retention_gain_out_of_time_over_baseline_logistic",
            "logistic",
            y,
            better,
            baseline,
            "oot",
        ),
    ]
    frame = pd.DataFrame([{**r.__dict__} for r in rows])
    cv, base, oot = findings.retention_findings(findings.rows(frame, "retention"))
    assert (cv.verdict.name, cv.verdict.text) == (
        "retention_gain_over_baseline_logistic",
        "negligible",
    )
    assert "ranks users practically as well as sessions before the cutoff alone" in _text(cv)
    assert (oot.verdict.name, oot.verdict.text) == (
        "retention_gain_out_of_time_over_baseline_logistic",
        "difference",
    )
    assert "ranks users better than sessions before the cutoff alone" in _text(oot)
    # The baseline is the reference the gains are measured from: no verdict of its own.
    assert base.verdict is None and "the reference the models' AUC gains" in _text(base)


def test_correlations_split_into_related_sentences_and_unrelated_pairs() -> None:
    def corr(method: str, x: str, y: str, r: float, verdict: str) -> dict[str, Any]:
        return {
            "section": "correlation",
            "name": f"{method}_{x}__{y}",
            "variables": f"{x} ~ {y}",
            "effect_name": f"{method}_r",
            "effect": r,
            "ci_low": r - 0.1,
            "ci_high": r + 0.1,
            "p_value": 0.01,
            "n": 100,
            "verdict": verdict,
            "details": {"method": method, "level": "user", "x": x, "y": y},
        }

    results = pd.DataFrame(
        [
            # verdicts as python_models/effect_sizes.py gives them (CI against the SESOI 0.1)
            corr("pearson", "age", "tenure_days", 0.01, "negligible"),
            corr("spearman", "age", "tenure_days", 0.02, "negligible"),
            corr("pearson", "watch_minutes", "mean_completion", -0.4, "association"),
            corr("spearman", "watch_minutes", "mean_completion", -0.35, "inconclusive"),
        ]
    )
    related, unrelated = findings.correlation_findings(results)
    # only a pair whose every method is negligible is merely named as practically unrelated
    assert unrelated == ["age & tenure"]
    assert len(related) == 2 and "moderate negative relation" in _text(related[0])
    assert "no clear relation" in _text(related[1])
    matrices, significant, _ = build.correlation_matrices(findings.rows(results, "correlation"))
    assert matrices["pearson"].loc["mean_completion", "watch_minutes"] == -0.4
    assert bool(significant["pearson"].loc["watch_minutes", "mean_completion"])
    assert not bool(significant["spearman"].loc["watch_minutes", "mean_completion"])


def test_cells_format_integers_floats_and_missing_values() -> None:
    assert tables.cell(12345) == "12,345"
    assert tables.cell(np.int64(7)) == "7"
    assert tables.cell(1234.7) == "1,235"
    assert tables.cell(0.01234) == "0.012"
    assert tables.cell(float("nan")) == "–" and tables.cell(None) == "–"
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]})
    assert tables.from_frame(frame).rows == [["1", "0.500"], ["2", "1.50"]]


def test_weekday_confidence_intervals_come_from_the_weekday_test_groups() -> None:
    groups = {"Mon": {"n": 36, "mean": 40.0, "sd": 6.0}, "Tue": {"n": 35, "mean": 42.0, "sd": 3.5}}
    results = pd.DataFrame(
        [{"section": "hypothesis", "name": "weekday_daily_sessions", "details": {"groups": groups}}]
    )
    run = AnalysisRun({"run_id": "r"}, results, None, None, None, None)
    frame = build.weekday_ci(run, pd.Series({"Mon": 40.0, "Tue": 42.0}))
    half = build.T95 * 6.0 / math.sqrt(36)
    assert math.isclose(frame.loc[0, "ci_low"], 40.0 - half) and math.isclose(
        frame.loc[0, "ci_high"], 40.0 + half
    )


def test_roc_and_calibration_charts_are_interactive_figures_of_the_series_points() -> None:
    fpr = np.linspace(0, 1, 20)
    roc = {"logistic": pd.DataFrame({"point_index": range(20), "x": fpr, "y": np.sqrt(fpr)})}
    cal = {
        "logistic": pd.DataFrame(
            {
                "point_index": range(5),
                "x": [0.1, 0.3, 0.5, 0.7, 0.9],
                "y": [0.12, 0.28, 0.55, 0.66, 0.93],
            }
        )
    }
    for key, figure, points in (
        ("roc", charts.roc_curves(roc, {"logistic": "logistic (AUC 0.8)"}), roc["logistic"]),
        ("calibration", charts.calibration(cal, {}), cal["logistic"]),
    ):
        chart = charts.interactive(key, key, "", figure)
        assert chart.interactive and not chart.png
        traces = json.loads(chart.figure)["data"]
        model = next(t for t in traces if t["name"].startswith("logistic"))
        assert np.allclose(_plotly_values(model["y"]), points["y"])
        assert any(t["line"].get("dash") == "dot" for t in traces if t["name"] != model["name"])


def _plotly_values(values: Any) -> np.ndarray:
    # plotly 6+ serialises numeric arrays as typed arrays ({dtype, bdata}).
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"]))
    return np.asarray(values, dtype=float)


def test_a_figure_cannot_close_the_script_element_that_carries_it() -> None:
    figure = charts.top10(
        pd.DataFrame(
            {
                "content_type": ["movie"],
                "performance_rank": [1],
                "title": ["</script><script>alert(1)</script>"],
                "content_id": ["M001"],
                "session_count": [5],
                "watch_hours": [1.5],
                "mean_completion_percentage": [50.0],
                "views": [10],
            }
        ),
        "movie",
    )
    chart = charts.interactive("top10-movie", "t", "", figure)
    assert "</" not in chart.figure
    assert json.loads(chart.figure)["data"][0]["y"] == ["</script><script>alert(1)</script> (M001)"]


def test_the_page_template_escapes_values_from_the_database() -> None:
    section = build.Section("x", "Section <b>title</b>", notes=["<script>alert(1)</script>"])
    page = build.Page("t", [("run", "<i>1</i>")], [], [section], "now")
    html = build.render(page)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "<i>1</i>" not in html


def test_pipeline_rows_show_their_keys_before_their_figures() -> None:
    table = tables.from_records(
        [
            {"user_count": 3, "premium_share": 0.5, "country": "Chile"},
            {"user_count": 2, "premium_share": 0.25, "country": "Peru"},
        ],
        limit=1,
    )
    assert table.columns == ["country", "user_count", "premium_share"]
    assert table.rows == [["Chile", "3", "0.500"]] and "First 1 of 2 rows." in table.note


def test_a_result_the_analysis_could_not_compute_says_why_instead_of_inventing_a_direction() -> (
    None
):
    row = {
        "section": "hypothesis",
        "name": "premium_vs_basic_mean_completion",
        "variables": "mean_completion ~ plan",
        "n": 4,
        "verdict": None,
        "effect": None,
        "details": {"not_computed": "Premium has 1 and Basic 3 values"},
    }
    text = _text(findings.hypothesis(row))
    assert text.startswith(
        "Mean completion per user: not computed — Premium has 1 and Basic 3 values"
    )
    assert findings.hypothesis(row).verdict is None
    k = {
        "section": "clustering",
        "name": "kmeans_chosen_k",
        "variables": "f",
        "n": 4,
        "details": {"not_computed": "4 users with sessions (at least 10 needed)"},
    }
    (only,) = findings.clustering({"kmeans_chosen_k": k})
    assert "not computed — 4 users" in _text(only)
    corr = {
        **row,
        "section": "correlation",
        "name": "pearson_age__tenure_days",
        "variables": "age ~ tenure_days",
    }
    related, unrelated = findings.correlation_findings(pd.DataFrame([corr]))
    assert unrelated == [] and "not computed" in _text(related[0])


def _activity(month: str, users: int, sessions: int, minutes: int, completion: float) -> dict:
    return {
        "activity_month": pd.Timestamp(month),
        "country": "All",
        "subscription_type": "All",
        "device_type": "All",
        "active_user_count": users,
        "session_count": sessions,
        "total_watch_minutes": minutes,
        "sum_completion_percentage": completion * sessions,
    }


def test_kpis_compare_the_last_complete_month_with_the_one_before() -> None:
    marts = {
        "rpt_dashboard_activity": pd.DataFrame(
            [
                _activity("2024-06-01", 100, 1000, 60_000, 70.0),
                _activity("2024-07-01", 110, 1100, 69_000, 77.0),
                # The log ends on 2024-08-03: three days of August are no month to compare.
                _activity("2024-08-01", 40, 90, 5_000, 80.0),
            ]
        ),
        "rpt_financial_revenue": pd.DataFrame(
            {
                "revenue_month": pd.to_datetime(["2024-06-01", "2024-07-01", "2024-07-01"]),
                "revenue_cents": [100_000, 60_000, 50_000],
            }
        ),
        "rpt_executive_summary": pd.DataFrame(
            {"activity_date": pd.to_datetime(["2024-06-01", "2024-07-31", "2024-08-03"])}
        ),
    }
    panel = build.kpi_panel(marts)
    assert panel is not None and (panel.month, panel.previous) == ("July 2024", "June 2024")
    assert "August 2024 is left out" in panel.note and "2024-08-03" in panel.note
    tiles = {t.key: t for t in panel.tiles}
    assert tiles["sessions"].text == "1,100" and math.isclose(tiles["sessions"].change, 0.1)
    assert tiles["hours_per_user"].value == 69_000 / 60 / 110
    assert tiles["completion"].text == "77.0 %" and tiles["revenue"].text == "$1,100"
    assert math.isclose(tiles["revenue"].change, 0.1)
    assert tiles["sessions"].change_text == "▲ 10.0 % vs June"
    assert build.kpi_panel({}) is None
