"""Build the HTML report: read a persisted analysis run and its context, draw, render, write.

:func:`build_report` is what the pipeline calls after ``run_analysis`` and what
``streamlytics report`` runs. The page reads from the top: a one-screen summary (the month's
KPIs from the dashboard marts with the change against the month before, and the few findings
with the largest effects, ranked), then a section per analysis whose statistical detail (test
tables, coefficients, assumption checks) is folded under it, one click away. It is one
self-contained file: interactive charts are Plotly figures drawn by the one copy of plotly.js
inlined from the plotly wheel, the other charts PNG data URIs, styles inline; a
Content-Security-Policy forbids every request, so it opens offline in any browser. Rendering
uses a Jinja2 template with autoescaping: every value read from the database is escaped.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import markupsafe
import numpy as np
import pandas as pd

from python_models import data as core_data
from python_models.report import charts, findings, sources, tables
from python_models.report.analysis_run import AnalysisRun
from python_models.report.analysis_run import load as load_run
from python_models.report.charts import Chart

REPORT_NAME = "report.html"
TEMPLATE_NAME = "report.html.j2"
T95 = 1.959963984540054  # normal quantile; each weekday has ~35 days in an 8-month log


@dataclass
class Section:
    """One titled block of the page: prose, findings, charts, open tables, then folded detail.

    ``tables`` are the statistical detail (test tables, coefficients, assumption checks, the
    numbers behind a chart): the page folds them under a <details> element, one click away.
    ``open_tables`` are the section's content itself (the load ledger) and are shown as they are.
    """

    key: str
    title: str
    intro: str = ""
    findings: list[findings.Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[tables.Table] = field(default_factory=list)
    subsections: list[Section] = field(default_factory=list)
    open_tables: list[tables.Table] = field(default_factory=list)
    detail_label: str = "Statistical detail"


@dataclass(frozen=True)
class Kpi:
    """One KPI tile: the month's value and its change against the month before."""

    key: str
    label: str
    value: float
    text: str
    change: float | None  # relative (0.05 = +5 %), None without a previous month
    previous: str = "previous month"

    @property
    def change_text(self) -> str:
        if self.change is None or not np.isfinite(self.change):
            return "no previous month"
        arrow = "▲" if self.change > 0 else "▼" if self.change < 0 else "="
        return f"{arrow} {abs(self.change) * 100:.1f} % vs {self.previous}"

    @property
    def direction(self) -> str:
        if self.change is None or not np.isfinite(self.change) or self.change == 0:
            return ""
        return "up" if self.change > 0 else "down"


@dataclass(frozen=True)
class KpiPanel:
    month: str  # "2024-08"
    previous: str | None
    note: str
    tiles: list[Kpi]


@dataclass
class Page:
    title: str
    meta: list[tuple[str, str]]
    summary: list[findings.Finding]
    sections: list[Section]
    generated_at: str
    kpis: KpiPanel | None = None

    @property
    def interactive(self) -> bool:
        def walk(sections: list[Section]) -> bool:
            return any(
                any(c.interactive for c in s.charts) or walk(s.subsections) for s in sections
            )

        return walk(self.sections)


# --- entry point ---------------------------------------------------------------------------------


def build_report(
    database_url: str,
    out_dir: Path | str,
    mongodb_uri: str | None = None,
    mongodb_db: str | None = None,
    *,
    run_id: Any | None = None,
    run_results_path: Path | None = None,
    core: core_data.AnalysisData | None = None,
) -> Path:
    """Write ``out_dir/report.html`` for the latest analysis run (or ``run_id``) and return its path.

    ``run_results_path`` is dbt's run_results.json for the data-quality section (default: the
    project's dbt target folder; missing is fine). MongoDB is read only when both ``mongodb_uri``
    and ``mongodb_db`` are given. ``core`` is the data the analysis itself read (the pipeline
    passes it, so the core's aggregates are not read a second time); by default it is read now.
    Raises sources.ReportSourceError when the database holds no analysis run or no core to draw from.
    """
    import psycopg2

    from streamlytics.dbt_relations import target_dir
    from streamlytics.warehouse import models_reader

    conn = psycopg2.connect(database_url)
    try:
        # The run from PostgreSQL's analysis schema; the models from the warehouse in use.
        run = load_run(conn, run_id)
        models = models_reader(conn)
        if run_results_path is None:
            # The file the analysis read, so the report and the persisted dbt figures agree.
            used = (run.run.get("parameters") or {}).get("dbt_run_results")
            run_results_path = Path(used) if used else target_dir() / "run_results.json"
        if core is None:
            try:
                core = core_data.load(models)
            except core_data.MissingCoreError as exc:
                raise sources.ReportSourceError(str(exc)) from exc
        marts = sources.marts(models)
        marts.update(kpi_marts(models))
        quality = sources.quality(models, Path(run_results_path))
    finally:
        conn.close()
    mongo = sources.mongo_results(mongodb_uri, mongodb_db)
    page = assemble(run, core, marts, quality, mongo)
    return write(Path(out_dir) / REPORT_NAME, render(page))


def render(page: Page) -> str:
    """The page as HTML (Jinja2, autoescaped)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.tests["quote"] = lambda part: isinstance(part, findings.Quote)
    plotlyjs = ""
    if page.interactive:
        from plotly.offline import get_plotlyjs

        # Inlined once, from the wheel: the page makes no request (its CSP forbids any).
        plotlyjs = markupsafe.Markup(get_plotlyjs().replace("</script", "<\\/script"))
    return env.get_template(TEMPLATE_NAME).render(
        page=page,
        verdict_class=tables.verdict_class,
        plotlyjs=plotlyjs,
        json_markup=markupsafe.Markup,
    )


def write(path: Path, html: str) -> Path:
    """Write atomically: a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(html)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path.resolve()


# --- the page ------------------------------------------------------------------------------------


def assemble(
    run: AnalysisRun,
    core: core_data.AnalysisData,
    marts: dict[str, pd.DataFrame],
    quality: sources.QualityData,
    mongo: sources.MongoResults | None,
) -> Page:
    users = core.users
    related, unrelated = findings.correlation_findings(run.results)
    sections = [
        seed_section(run),
        hypothesis_section(run),
        descriptive_section(run, core.sessions, users),
        correlation_section(run, related, unrelated),
        cluster_section(run, users),
        retention_section(run),
        popularity_section(run),
        trend_section(run),
        *other_sections(run),
        dashboard_section(marts),
        mongo_section(mongo),
        quality_section(run, quality),
    ]
    return Page(
        title="Streamlytics analysis report",
        meta=run_meta(run, core),
        # The few findings that matter most, ranked by effect size (issue 18's verdicts).
        summary=findings.headline_findings(run.results, limit=HEADLINE_FINDINGS),
        sections=[s for s in sections if s is not None],
        generated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        kpis=kpi_panel(marts),
    )


HEADLINE_FINDINGS = 5

# The Executive dashboard's monthly activity (all countries, plans and devices) and revenue.
KPI_MARTS = ("rpt_dashboard_activity", "rpt_financial_revenue")


def kpi_marts(conn: Any) -> dict[str, pd.DataFrame]:
    """The marts the summary's KPI tiles read (absent ones are left out, as in sources.marts)."""
    from python_models.warehouse import model_exists, query_frame
    from streamlytics.dbt_relations import relation

    out = {}
    for name in KPI_MARTS:
        if model_exists(conn, name):
            frame = query_frame(conn, f"select * from {relation(name)}")
            for column in frame.columns:
                if column.endswith(("_count", "_minutes", "_percentage", "_cents", "_usd")):
                    frame[column] = pd.to_numeric(frame[column]).astype("float64")
            out[name] = frame
    return out


def kpi_panel(marts: dict[str, pd.DataFrame]) -> KpiPanel | None:
    """The last complete month's KPIs against the month before, as the Executive dashboard has them.

    A trailing month the log covers only in part (the log ends before its last day) is not
    compared with a whole month: the tiles show the last complete month and say so.
    """
    activity = marts.get("rpt_dashboard_activity")
    if activity is None or activity.empty:
        return None
    every = activity[
        (activity["country"] == "All")
        & (activity["subscription_type"] == "All")
        & (activity["device_type"] == "All")
    ]
    by_month = every.assign(
        month=pd.to_datetime(every["activity_month"]).dt.to_period("M")
    ).set_index("month")
    by_month = by_month.sort_index()
    months = list(by_month.index)
    note = ""
    executive = marts.get("rpt_executive_summary")
    if executive is not None and not executive.empty and len(months) > 1:
        log_end = pd.Timestamp(pd.to_datetime(executive["activity_date"]).max())
        if log_end.date() < months[-1].end_time.date():
            note = (
                f"{months[-1].strftime('%B %Y')} is left out: the log covers it only up to "
                f"{log_end.date()}, so it is not compared with a whole month."
            )
            months = months[:-1]
    revenue = pd.Series(dtype=float)
    if "rpt_financial_revenue" in marts:
        r = marts["rpt_financial_revenue"]
        revenue = (
            r.assign(month=pd.to_datetime(r["revenue_month"]).dt.to_period("M"))
            .groupby("month")["revenue_cents"]
            .sum()
            / 100
        )

    def measures(month: pd.Period) -> dict[str, float]:
        row = by_month.loc[month]
        sessions, active = float(row["session_count"]), float(row["active_user_count"])
        hours = float(row["total_watch_minutes"]) / 60
        return {
            "active_users": active,
            "sessions": sessions,
            "watch_hours": hours,
            "hours_per_user": hours / active if active else np.nan,
            "completion": float(row["sum_completion_percentage"]) / sessions
            if sessions
            else np.nan,
            "revenue": float(revenue.get(month, np.nan)),
        }

    current, previous = months[-1], (months[-2] if len(months) > 1 else None)
    now = measures(current)
    before = measures(previous) if previous is not None else {}
    labels = (
        ("active_users", "Active users", "{:,.0f}"),
        ("sessions", "Sessions", "{:,.0f}"),
        ("watch_hours", "Watch hours", "{:,.0f}"),
        ("hours_per_user", "Watch hours per active user", "{:,.2f}"),
        ("completion", "Mean completion", "{:.1f} %"),
        ("revenue", "Modelled revenue", "${:,.0f}"),
    )
    tiles = []
    for key, label, form in labels:
        value = now[key]
        if not np.isfinite(value):
            continue
        old = before.get(key)
        change = value / old - 1 if old and np.isfinite(old) else None
        previous_name = previous.strftime("%B") if previous is not None else "previous month"
        tiles.append(Kpi(key, label, value, form.format(value), change, previous_name))
    return KpiPanel(
        current.strftime("%B %Y"),
        previous.strftime("%B %Y") if previous is not None else None,
        note,
        tiles,
    )


def run_meta(run: AnalysisRun, core: core_data.AnalysisData) -> list[tuple[str, str]]:
    meta = [("Analysis run", str(run.run_id))]
    if run.run.get("finished_at") is not None:
        meta.append(("Finished", tables.cell(pd.Timestamp(run.run["finished_at"]).floor("s"))))
    seed = (run.run.get("parameters") or {}).get("seed")
    if seed is not None:
        meta.append(("Seed", str(seed)))
    counts = core.fingerprint.get("row_counts", {})
    meta.append(
        (
            "Core rows",
            ", ".join(
                f"{k} {v:,}"
                for k, v in counts.items()
                if k in ("users", "content", "viewing_sessions")
            ),
        )
    )
    meta.append(("Log period", f"{core.sessions.first_day} – {core.data_end}"))
    return meta


def _section_rows(run: AnalysisRun, *sections: str) -> list[dict[str, Any]]:
    return [r for s in sections for r in findings.rows(run.results, s)]


SEED_SECTIONS = ("seed_finding",)
SEED_EVIDENCE = "seed_evidence"


def seed_section(run: AnalysisRun) -> Section | None:
    """The seed README's three claims: each verdict, its parts, and the rows that are its evidence."""
    claims = _section_rows(run, *SEED_SECTIONS)
    if not claims:
        return None
    section = Section(
        "seed",
        "The seed's three claims, tested",
        "The seed project's README made three key claims. Each is tested here as a hypothesis made of parts; "
        "a claim is supported only when every part's evidence shows a difference or association beyond its "
        "smallest effect of interest, in the claimed direction.",
    )
    everything = findings.by_name(run.results)
    for i, row in enumerate(claims, start=1):
        sub = Section(f"seed-{row['name']}", f"Claim {i}: {row.get('variables') or row['name']}")
        sub.findings = findings.seed_claim(row)
        names = [p.get("evidence") for p in (row.get("details") or {}).get("parts", [])]
        evidence = [everything[n] for n in names if isinstance(n, str) and n in everything]
        if evidence:
            sub.tables.append(
                tables.results_table(evidence, findings.SUBJECTS, "Evidence (as persisted)")
            )
        section.subsections.append(sub)
    return section


def hypothesis_section(run: AnalysisRun) -> Section:
    rows = findings.rows(run.results, "hypothesis")
    section = Section(
        "tests",
        "Hypothesis tests",
        "Each comparison checks its assumptions first (normality per group, equal variances) and picks the "
        "test accordingly. Verdicts follow effect sizes: a difference when the effect's 95% confidence "
        "interval lies beyond the smallest effect of interest (and the Holm-adjusted p < 0.05), negligible "
        "when it lies inside it, inconclusive otherwise. No outlier was removed.",
    )
    section.findings = findings.hypothesis_findings(run.results)
    section.tables.append(
        tables.results_table(rows, findings.SUBJECTS, "All hypothesis tests of this run")
    )
    checks = assumption_checks(rows)
    if checks is not None:
        section.tables.append(checks)
    return section


def _normality(group: str, check: dict[str, Any]) -> str:
    """'Basic not normal (W = 0.991, p < 0.001, on 5,000 of 69,050)' for one group."""
    verdict = "normal" if check.get("normal") else "not normal"
    sample = ""
    if check.get("shapiro_n") not in (None, check.get("n")):
        sample = f", on {int(check['shapiro_n']):,} of {int(check['n']):,}"
    w = tables.cell(check.get("shapiro_w"), 3)
    return f"{group} {verdict} (W = {w}, p {findings.fmt_p_value(check.get('shapiro_p'))}{sample})"


def assumption_checks(rows: list[dict[str, Any]]) -> tables.Table | None:
    """Per test, what chose it: normality per group (Shapiro-Wilk), equal variances (Levene), why.

    Read from each row's details as the analysis persisted them; a test without checks (a
    contingency table, a model) is left out.
    """
    lines = []
    for r in rows:
        d = r.get("details") or {}
        normality, variance = d.get("normality") or {}, d.get("variance") or {}
        if not (normality or variance):
            continue
        groups = "; ".join(
            _normality(group, check)
            for group, check in normality.items()
            if isinstance(check, dict)
        )
        lines.append(
            {
                "question": findings.SUBJECTS.get(str(r.get("name")), str(r.get("name"))),
                "normality per group (Shapiro-Wilk)": groups or "–",
                "Levene W": variance.get("levene_w"),
                "Levene p": findings.fmt_p_value(variance.get("levene_p")).removeprefix("= "),
                "equal variances": {True: "yes", False: "no"}.get(variance.get("equal"), "–"),
                "test chosen": str(d.get("test") or "–"),
                "why": str(d.get("why") or "–"),
            }
        )
    if not lines:
        return None
    return tables.from_frame(
        pd.DataFrame(lines), caption="Assumption checks", digits={"Levene W": 3}
    )


DESCRIPTIVE_COLUMNS = {
    "variable": "variable",
    "grp": "group",
    "n": "n",
    "mean": "mean",
    "median": "median",
    "mode": "mode",
    "sd": "sd",
    "min": "min",
    "q1": "Q1",
    "q3": "Q3",
    "max": "max",
    "iqr": "IQR",
    "skew": "skew",
    "kurtosis": "excess kurtosis",
    "n_outliers_iqr": "outliers (IQR)",
    "n_outliers_robust_z": "outliers (robust z)",
}


def descriptive_section(
    run: AnalysisRun, sessions: core_data.SessionAggregates, users: pd.DataFrame
) -> Section:
    section = Section(
        "descriptive",
        "Descriptive statistics",
        "Distributions of the core measures. Outliers are counted (IQR rule and robust z > 3.5) and reported, "
        "never removed before inference.",
    )
    section.charts.append(
        charts.render(
            "histograms",
            "Distributions",
            "Histograms of watch minutes and completion per session and of lifetime "
            "watch hours per user, with mean and median.",
            lambda: charts.histograms(
                sessions.freq("minutes")["all"], sessions.freq("completion")["all"], users
            ),
        )
    )
    section.charts.append(
        charts.render(
            "boxplots",
            "By plan",
            "Box plots by plan (whiskers 1.5 × IQR; points beyond them are the IQR outliers, "
            "kept in every test).",
            lambda: charts.boxplots_by_plan(sessions.freq("completion_by_plan"), users),
        )
    )
    d = run.descriptive
    if d is not None and not d.empty:
        columns = {k: v for k, v in DESCRIPTIVE_COLUMNS.items() if k in d.columns}
        shown = d.assign(
            variable=d["variable"].astype(str) + " (per " + d["level"].astype(str) + ")"
        )
        section.tables.append(
            tables.from_frame(shown, columns, "Summary statistics (persisted with the run)")
        )
    return section


def correlation_section(
    run: AnalysisRun, related: list[findings.Finding], unrelated: list[str]
) -> Section | None:
    rows = findings.rows(run.results, "correlation")
    if not rows:
        return None
    section = Section(
        "correlations",
        "Correlations",
        "Pearson (linear) and Spearman (monotone) correlations per user, with Fisher-z 95% confidence intervals; "
        "all correlations of the run are one family for the Holm correction.",
    )
    section.findings = related
    if unrelated:
        section.notes.append(
            "Practically unrelated (both methods' 95% CIs inside ±0.1, the smallest correlation "
            "of interest): " + "; ".join(unrelated) + "."
        )
    matrices, significant, labels = correlation_matrices(rows)
    section.charts.append(
        charts.interactive(
            "correlation-heatmap",
            "Correlation heatmap",
            "Per-user correlations from the persisted rows; * marks an association (95% CI beyond "
            "the smallest correlation of interest, Holm-adjusted p < 0.05). "
            "The buttons switch between Pearson and Spearman; hover a cell for its value.",
            charts.correlation_heatmap(matrices, significant, labels),
        )
    )
    section.tables.append(tables.results_table(rows, {}, "All correlations", with_test=False))
    return section


def correlation_matrices(
    rows: list[dict[str, Any]],
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame], dict[str, str]]:
    """Square matrices of the per-user correlations (and of their verdicts) by method."""
    values: dict[str, dict[tuple[str, str], float]] = {}
    supported: dict[str, dict[tuple[str, str], bool]] = {}
    names: list[str] = []
    for r in rows:
        d = r.get("details") or {}
        if d.get("level", "user") != "user" or "x" not in d or "y" not in d:
            continue
        method, x, y = str(d.get("method")), str(d["x"]), str(d["y"])
        names += [n for n in (x, y) if n not in names]
        values.setdefault(method, {})[(x, y)] = r.get("effect")
        supported.setdefault(method, {})[(x, y)] = findings.positive(r)
    matrices, significant = {}, {}
    for method, effects in values.items():
        m = pd.DataFrame(np.nan, index=names, columns=names)
        s = pd.DataFrame(False, index=names, columns=names)
        for (x, y), v in effects.items():
            m.loc[x, y] = m.loc[y, x] = v
            s.loc[x, y] = s.loc[y, x] = supported[method][(x, y)]
        for n in names:
            m.loc[n, n] = 1.0
        matrices[method], significant[method] = m, s
    return matrices, significant, dict(findings.VARIABLE_WORDS)


def cluster_section(run: AnalysisRun, users: pd.DataFrame) -> Section | None:
    rows = {r["name"]: r for r in findings.rows(run.results, "clustering")}
    if not rows:
        return None
    section = Section(
        "clusters",
        "Clusters of users",
        "Users with sessions, clustered on standardised behavioural features: k-means (k chosen by the highest "
        "mean silhouette) and Ward's hierarchical clustering, compared by the adjusted Rand index.",
    )
    section.findings = findings.clustering(rows)
    silhouettes = {
        int((r.get("details") or {}).get("k")): float(r["statistic"])
        for r in rows.values()
        if r["name"].startswith("kmeans_silhouette_k")
    }
    chosen_row = rows.get("kmeans_chosen_k")
    chosen = (
        int(chosen_row["statistic"])
        if chosen_row and chosen_row.get("statistic") is not None
        else None
    )
    ari = rows.get("kmeans_vs_ward_ari") or {}
    explained = (ari.get("details") or {}).get("pca_explained_variance")
    a = run.assignments
    if a is not None and not a.empty:
        section.charts.append(
            charts.render(
                "cluster-pca",
                "k-means clusters",
                "Each dot is a user, placed on the first two principal components "
                "of the standardised features and coloured by k-means cluster.",
                lambda: charts.cluster_pca(a, explained),
            )
        )
    if silhouettes:
        section.charts.append(
            charts.render(
                "silhouette",
                "Silhouette by k",
                "Mean silhouette of k-means for each k tried; the highest is chosen.",
                lambda: charts.silhouette_by_k(silhouettes, chosen),
            )
        )
    if a is not None and "in_ward_sample" in a.columns and a["in_ward_sample"].any():
        link, n = ward_linkage(users, a)
        section.charts.append(
            charts.render(
                "dendrogram",
                "Ward dendrogram",
                "Ward linkage of the sampled users on the same standardised "
                "features; the dashed line cuts the tree into the chosen number of clusters.",
                lambda: charts.dendrogram(link, chosen, n),
            )
        )
    if run.profiles is not None and not run.profiles.empty:
        section.tables.append(profile_table(run.profiles))
    return section


def ward_linkage(users: pd.DataFrame, assignments: pd.DataFrame) -> tuple[np.ndarray, int]:
    """Ward linkage of the users the run put in its Ward sample, on the standardised features.

    Standardisation is over every clustered user (as the analysis did), then the sample is cut.
    """
    from scipy.cluster.hierarchy import linkage
    from sklearn.preprocessing import StandardScaler

    from python_models.clustering import FEATURES

    frame = users[users["user_id"].isin(assignments["user_id"])].set_index("user_id")
    frame = frame.loc[assignments["user_id"]]
    x = StandardScaler().fit_transform(frame[list(FEATURES)].to_numpy(dtype=float))
    sample = assignments["in_ward_sample"].astype(bool).to_numpy()
    return linkage(x[sample], method="ward"), int(sample.sum())


def profile_table(profiles: pd.DataFrame) -> tables.Table:
    """k-means cluster profiles: one row per feature, the mean per cluster."""
    km = profiles[profiles["method"] == "kmeans"]
    wide = km.pivot_table(index="feature", columns="cluster", values="mean", sort=False)
    sizes = km.groupby("cluster")["n_users"].first()
    wide.columns = [f"cluster {c} (n = {int(sizes[c]):,})" for c in wide.columns]
    return tables.from_frame(
        wide.reset_index(), caption="k-means cluster profiles (mean of each feature)"
    )


def retention_section(run: AnalysisRun) -> Section | None:
    rows = findings.rows(run.results, "retention")
    if not rows:
        return None
    section = Section(
        "retention",
        "Retention model",
        "Retained = at least one session in the last month of the log; features only from before that month "
        "(time split); scores are out-of-fold on held-out users. An AUC near 1 would mean leakage, not skill.",
    )
    section.findings = findings.retention_findings(rows)
    # Written by the analysis from its counts when the classes were too small to evaluate.
    section.notes += [
        str(r["interpretation"]) for r in rows if r["name"] == "retention_not_evaluated"
    ]
    roc = run.series_named("retention_roc_")
    cal = run.series_named("retention_calibration_")
    labels = {}
    for r in rows:
        if r["name"].startswith("retention_auc_"):
            model = r["name"][len("retention_auc_") :]
            labels[model] = (
                f"{model.replace('_', ' ')} (AUC {tables.cell(r.get('effect'), 3)} "
                f"[{tables.cell(r.get('ci_low'), 3)}, {tables.cell(r.get('ci_high'), 3)}])"
            )
    if roc:
        section.charts.append(
            charts.interactive(
                "roc",
                "ROC",
                "Held-out ROC curve of each model; click a model in the legend to hide it.",
                charts.roc_curves(roc, labels),
            )
        )
    if cal:
        section.charts.append(
            charts.interactive(
                "calibration",
                "Calibration",
                "Observed share retained against the "
                "mean predicted probability, per decile of prediction.",
                charts.calibration(cal, labels),
            )
        )
    coefficients = [
        r
        for r in rows
        if r["name"].startswith(("retention_logistic_coef_", "retention_gb_importance_"))
    ]
    if coefficients:
        section.tables.append(
            tables.results_table(
                coefficients,
                {},
                "Coefficients (odds ratio per SD) and permutation importances",
                with_test=False,
            )
        )
    return section


POPULARITY_SECTIONS = ("regression",)


def popularity_section(run: AnalysisRun) -> Section | None:
    rows = _section_rows(run, *POPULARITY_SECTIONS)
    if not rows:
        return None
    section = Section(
        "popularity",
        "Content popularity regressions",
        "Movies' views on budget and rating; series' views on seasons and episode length: "
        "coefficients with 95% confidence intervals and R².",
    )
    section.findings = [findings.regression(r) for r in rows]
    section.tables.append(
        tables.results_table(rows, {}, "Coefficients and models", with_test=False)
    )
    return section


def trend_section(run: AnalysisRun) -> Section | None:
    """Monthly and weekday series as the analysis persisted them, and its trend test."""
    monthly, weekday = series_wide(run, "monthly"), series_wide(run, "weekday")
    trend_rows = _section_rows(run, *TREND_SECTIONS)
    if monthly is None and weekday is None and not trend_rows:
        return None
    section = Section(
        "trends",
        "Time trends",
        "Viewing by calendar month and by weekday, both from watch_date (each session's real date).",
    )
    section.findings = [
        findings.correlation(r)
        for r in trend_rows
        if r.get("effect_name") in ("spearman_rho", "pearson_r")
    ]
    if monthly is not None and "sessions" in monthly:
        frame = pd.DataFrame(
            {
                "month": pd.to_datetime(monthly.index + "-01"),
                "sessions": monthly["sessions"].to_numpy(),
            }
        )
        if "active_users" in monthly:
            frame["active_users"] = monthly["active_users"].to_numpy()
        section.charts.append(
            charts.interactive(
                "monthly",
                "By month",
                "Sessions (bars) and distinct active users (line) per calendar month.",
                charts.monthly_trend(frame),
            )
        )
    if weekday is not None and "sessions_per_day" in weekday:
        frame = weekday_ci(run, weekday["sessions_per_day"])
        section.charts.append(
            charts.interactive(
                "weekday",
                "By weekday",
                "Mean sessions per calendar day of each weekday; "
                "error bars are 95% confidence intervals over the days (from the weekday "
                "test's group summaries).",
                charts.weekday_trend(frame),
            )
        )
    if monthly is not None:
        section.tables.append(
            tables.from_frame(monthly.reset_index(), caption="Monthly series (persisted)")
        )
    if trend_rows:
        section.tables.append(tables.results_table(trend_rows, {}, "Trend tests", with_test=False))
    return section


TREND_SECTIONS = ("trend", "trends")


def series_wide(run: AnalysisRun, name: str) -> pd.DataFrame | None:
    """One persisted series as a frame: a row per point (x_label), a column per measure."""
    s = run.series
    if s is None or s.empty:
        return None
    part = s[s["series"] == name]
    if part.empty:
        return None
    order = part.sort_values("point_index").drop_duplicates("x_label")["x_label"].tolist()
    wide = part.pivot_table(
        index="x_label", columns="measure", values="y", aggfunc="first"
    ).reindex(order)
    wide.columns.name = None
    for column in wide.columns:
        # Counts are stored as double precision: show whole numbers as integers.
        values = wide[column]
        if values.notna().all() and (values == values.round()).all():
            wide[column] = values.astype("int64")
    return wide.rename_axis({"monthly": "month"}.get(name, name))


def weekday_ci(run: AnalysisRun, per_day: pd.Series) -> pd.DataFrame:
    """Sessions per day by weekday with a normal 95% CI from the weekday test's per-group sd and n."""
    groups = {}
    for r in findings.rows(run.results, "hypothesis"):
        if r["name"] == "weekday_daily_sessions":
            groups = (r.get("details") or {}).get("groups") or {}
    frame = pd.DataFrame({"weekday": per_day.index, "value": per_day.to_numpy(dtype=float)})
    sd = np.array([float((groups.get(d) or {}).get("sd") or np.nan) for d in frame["weekday"]])
    n = np.array([float((groups.get(d) or {}).get("n") or np.nan) for d in frame["weekday"]])
    half = T95 * sd / np.sqrt(n)
    frame["ci_low"], frame["ci_high"] = frame["value"] - half, frame["value"] + half
    frame.attrs["unit"] = "sessions per day"
    return frame


def other_sections(run: AnalysisRun) -> list[Section]:
    """Any section of the run the report has no dedicated view for: its rows as a table."""
    known = {
        "hypothesis",
        "correlation",
        "clustering",
        "retention",
        "data_quality",
        "descriptive",
        SEED_EVIDENCE,
        *TREND_SECTIONS,
        *SEED_SECTIONS,
        *POPULARITY_SECTIONS,
    }
    out = []
    for name in run.results["section"].drop_duplicates():
        if name in known:
            continue
        rows = findings.rows(run.results, name)
        s = Section(f"section-{name}", str(name).replace("_", " ").capitalize())
        s.tables.append(tables.results_table(rows, {}, with_test=False))
        out.append(s)
    return out


# --- dashboards, MongoDB, data quality -----------------------------------------------------------


def _weighted(frame: pd.DataFrame, by: str, value: str, weight: str) -> pd.Series:
    return (frame[value] * frame[weight]).groupby(frame[by]).sum() / frame[weight].groupby(
        frame[by]
    ).sum()


def dashboard_section(marts: dict[str, pd.DataFrame]) -> Section:
    section = Section(
        "dashboards",
        "Dashboard views",
        "The dashboard marts (schema marts), summarised: what the Tableau dashboards show. "
        "The same marts, with month, country, plan and device filters, are in the web "
        "dashboards (reports/dashboards.html, `streamlytics dashboards`).",
    )
    if "rpt_executive_summary" in marts:
        e = marts["rpt_executive_summary"].sort_values("activity_date")
        sub = Section("dash-executive", "Executive summary", detail_label="Tables")
        last = e.iloc[-1]
        kpis = pd.DataFrame(
            [
                {
                    "days": e.shape[0],
                    "sessions": int(e["session_count"].sum()),
                    "watch hours": float(e["watch_hours"].sum()),
                    "mean daily active users": float(e["daily_active_users"].mean()),
                    "MAU on last day": int(last["monthly_active_users"]),
                    "mean stickiness (DAU/MAU)": float(e["stickiness"].mean()),
                }
            ]
        )
        sub.tables.append(tables.from_frame(kpis, caption="Key figures over the log"))
        sub.charts.append(
            charts.interactive(
                "dau",
                "Active users",
                "DAU, WAU and MAU per day; hover a day for its three values.",
                charts.active_users(e),
                wide=True,
            )
        )
        section.subsections.append(sub)
    if "rpt_user_analytics" in marts:
        u = marts["rpt_user_analytics"]
        sub = Section("dash-users", "User analytics", detail_label="Tables")
        by_plan = u.groupby("subscription_type")[
            ["user_count", "active_user_count", "session_count", "watch_hours"]
        ].sum()
        by_plan["sessions per active user"] = (
            by_plan["session_count"] / by_plan["active_user_count"]
        )
        by_plan["watch hours per active user"] = (
            by_plan["watch_hours"] / by_plan["active_user_count"]
        )
        by_plan["mean completion %"] = _weighted(
            u, "subscription_type", "mean_completion_percentage", "session_count"
        )
        by_plan["4K share"] = _weighted(
            u, "subscription_type", "share_of_sessions_4k", "session_count"
        )
        by_plan = by_plan.reindex([p for p in charts.PLANS if p in by_plan.index]).reset_index()
        by_plan = by_plan.rename(
            columns={
                "subscription_type": "plan",
                "user_count": "users",
                "active_user_count": "active users",
                "session_count": "sessions",
                "watch_hours": "watch hours",
            }
        )
        sub.tables.append(
            tables.from_frame(
                by_plan,
                caption="By plan (rolled up from country × plan × age band; "
                "ratios weighted by sessions)",
            )
        )
        section.subsections.append(sub)
    if "rpt_content_performance" in marts:
        c = marts["rpt_content_performance"]
        top = c[c["genre_scope"] == "All genres"]
        sub = Section("dash-content", "Content performance", detail_label="Tables")
        for content_type, plural in (("movie", "movies"), ("series", "series")):
            if (top["content_type"] == content_type).any():
                sub.charts.append(
                    charts.interactive(
                        f"top10-{content_type}",
                        f"Top 10 {plural}",
                        f"The 10 {plural} with the most sessions in the log (all genres); "
                        "hover a bar for watch hours, completion and the catalogue's own views "
                        "counter (a different measure).",
                        charts.top10(top, content_type),
                    )
                )
        cols = {
            "content_type": "type",
            "performance_rank": "rank",
            "title": "title",
            "content_id": "id",
            "session_count": "sessions",
            "viewer_count": "viewers",
            "watch_hours": "watch hours",
            "mean_completion_percentage": "mean completion %",
            "rating": "rating",
            "views": "catalogue views",
        }
        sub.tables.append(
            tables.from_frame(
                top.sort_values(["content_type", "performance_rank"]), cols, "Top 10 per type"
            )
        )
        if "rpt_device_completion" in marts:
            dev = marts["rpt_device_completion"]
            sub.charts.append(
                charts.interactive(
                    "device-completion",
                    "Completion by device",
                    "Mean completion per "
                    "device with its 95% confidence interval (mart rpt_device_completion).",
                    charts.device_completion(dev),
                )
            )
        section.subsections.append(sub)
    if "rpt_financial_revenue" in marts:
        f = marts["rpt_financial_revenue"]
        sub = Section("dash-financial", "Financial (modelled revenue)", detail_label="Tables")
        sub.notes.append(
            "Revenue is modelled from the documented plan price table (dbt seed plan_prices); "
            "the raw data has no prices."
        )
        sub.charts.append(
            charts.interactive(
                "revenue",
                "Revenue by month",
                "Modelled revenue per month, stacked by plan; click a plan in the legend to "
                "hide it.",
                charts.revenue_by_month(f),
            )
        )
        by_plan = f.groupby("subscription_type")["revenue_usd"].sum()
        by_plan = by_plan.reindex([p for p in charts.PLANS if p in by_plan.index])
        share = by_plan / by_plan.sum()
        frame = pd.DataFrame(
            {"plan": by_plan.index, "revenue USD": by_plan.to_numpy(), "share": share.to_numpy()}
        )
        sub.tables.append(tables.from_frame(frame, caption="Revenue by plan over the log"))
        section.subsections.append(sub)
    if "rpt_geographic" in marts:
        g = marts["rpt_geographic"].sort_values("user_count", ascending=False)
        sub = Section("dash-geographic", "Geographic", detail_label="Tables")
        sub.charts.append(
            charts.interactive(
                "geographic",
                "Countries",
                "Users (top) and watch hours per active user (bottom) by country, ranked by users.",
                charts.geographic(g),
            )
        )
        sub.tables.append(
            tables.from_frame(
                g,
                {
                    "country": "country",
                    "user_count": "users",
                    "active_user_count": "active users",
                    "premium_share": "Premium share",
                    "session_count": "sessions",
                    "watch_hours": "watch hours",
                    "mean_completion_percentage": "mean completion %",
                    "revenue_usd": "revenue USD",
                    "revenue_per_active_user_usd": "revenue per active user USD",
                },
                caption="Countries",
            )
        )
        section.subsections.append(sub)
    if not section.subsections:
        section.notes.append(
            "No dashboard mart exists in this database: run `streamlytics transform` (dbt build)."
        )
    return section


def mongo_section(mongo: sources.MongoResults | None) -> Section:
    section = Section(
        "mongo",
        "MongoDB aggregation pipelines",
        "The four pipelines' saved results (collection pipeline_results), as last published.",
    )
    if mongo is None:
        section.notes.append("No MongoDB was given to the report builder: this section is empty.")
    elif mongo.error:
        section.notes.append(f"MongoDB database {mongo.database} could not be read: {mongo.error}")
    elif not mongo.pipelines:
        section.notes.append(
            f"No pipeline results saved in MongoDB database {mongo.database}: "
            "run `streamlytics publish` first."
        )
    for name, rows in (mongo.pipelines if mongo else {}).items():
        sub = Section(f"mongo-{name}", name.replace("_", " ").capitalize(), detail_label="Rows")
        sub.tables.append(tables.from_records(rows, f"{len(rows):,} rows", limit=15))
        section.subsections.append(sub)
    return section


def quality_section(run: AnalysisRun, quality: sources.QualityData) -> Section:
    section = Section(
        "quality",
        "Data quality",
        detail_label="Quarantine and dbt tables",
        intro="What arrived, what was rejected and why. Every line read is either loaded or quarantined "
        "with a reason; rows that fail a rule needing other rows are rejected in dbt staging.",
    )
    ledger_cols = {
        "source_file": "file",
        "batch": "batch",
        "lines_read": "lines read",
        "rows_loaded": "loaded",
        "rows_quarantined": "quarantined at ingest",
        "rows_rejected_in_staging": "rejected in staging",
        "file_bytes": "bytes",
        "finished_at": "loaded at",
    }
    section.open_tables.append(
        tables.from_frame(quality.ledger, ledger_cols, "Load ledger (batches currently loaded)")
    )
    q = quality.quarantine
    if q.empty:
        section.notes.append("Nothing was quarantined.")
    else:
        wide = q.pivot_table(
            index=["stage", "reason_code"],
            columns="source_file",
            values="rows",
            aggfunc="sum",
            fill_value=0,
        )
        wide["total"] = wide.sum(axis=1)
        section.tables.append(
            tables.from_frame(wide.reset_index(), caption="Quarantine by reason and file")
        )
        section.tables.append(
            tables.from_frame(
                quality.examples,
                {"source_file": "file", "reason_code": "reason", "message": "first example"},
                "One example per file and reason",
            )
        )
    dq_rows = _section_rows(run, "data_quality")
    section.findings = [
        findings.file_quality(r) for r in dq_rows if str(r["name"]).startswith("file_")
    ]
    section.notes += [str(r["interpretation"]) for r in dq_rows if r["name"] == "dbt_tests"]
    dbt = quality.dbt
    if dbt is None:
        section.notes.append(
            "No dbt run_results.json was found: the dbt test summary is not available."
        )
    else:
        frame = pd.DataFrame([{"resource": k, **v} for k, v in sorted(dbt.counts.items())]).fillna(
            0
        )
        for column in frame.columns[1:]:
            frame[column] = frame[column].astype(int)
        section.tables.append(
            tables.from_frame(
                frame,
                caption=f"dbt build outcome by resource and status "
                f"(run_results.json generated {dbt.generated_at or 'at an unknown time'})",
            )
        )
        if dbt.problems:
            section.tables.append(
                tables.from_frame(
                    pd.DataFrame(dbt.problems), caption="dbt nodes that failed or warned"
                )
            )
    return section
