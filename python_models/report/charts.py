"""The report's charts: interactive Plotly figures where a reader hovers or toggles, PNGs elsewhere.

A chart whose values a reader wants to read off (trends, rankings, revenue, correlations, the
retention curves) is a Plotly figure: :func:`interactive` keeps its JSON, and the page draws it
with the one copy of plotly.js inlined from the plotly wheel (no CDN, no request). Shapes that
hovering adds nothing to (distributions, box plots, the users' PCA cloud, the dendrogram) stay
PNGs: matplotlib's object API (``Figure`` without pyplot, Agg, in memory) in seaborn's whitegrid
style applied through ``rc_context`` for one figure only. Every function takes plain frames or
dicts; what they show is read from the database by :mod:`python_models.report.sources`, never
computed here beyond layout (sorting, pivoting).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from python_models.frequencies import Freq

PLANS = ("Basic", "Standard", "Premium")
PLAN_COLOURS = {"Basic": "#8da0cb", "Standard": "#66c2a5", "Premium": "#fc8d62"}
DPI = 110


@dataclass(frozen=True)
class Chart:
    """One chart: an id for the page, a title, a caption and either PNG bytes or a Plotly figure."""

    key: str
    title: str
    caption: str
    png: bytes = b""
    width: int = 0
    height: int = 0
    figure: str = ""
    """The Plotly figure as JSON (``</`` escaped, safe inside a script element) when interactive."""
    wide: bool = False

    @property
    def interactive(self) -> bool:
        return bool(self.figure)

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@contextmanager
def _style() -> Iterator[None]:
    rc = {
        **sns.axes_style("whitegrid"),
        **sns.plotting_context("notebook", font_scale=0.85),
        "figure.dpi": DPI,
        "savefig.dpi": DPI,
        "axes.titleweight": "bold",
    }
    with matplotlib.rc_context(rc):
        yield


def render(key: str, title: str, caption: str, draw: Callable[[], Figure]) -> Chart:
    """Draw a figure in the report's style and encode it as PNG."""
    with _style():
        fig = draw()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", facecolor="white")
    png = buffer.getvalue()
    width, height = png_size(png)
    return Chart(key, title, caption, png, width, height, wide=width > 1000)


def interactive(key: str, title: str, caption: str, figure: Any, wide: bool = False) -> Chart:
    """A Plotly figure in the report's look, kept as JSON for the page to draw."""
    figure.update_layout(
        template="plotly_white",
        autosize=True,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        font={"size": 12},
        # Above the plot: below it, it collides with the x-axis title on a phone.
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        hoverlabel={"namelength": -1},
    )
    figure.update_xaxes(automargin=True)
    figure.update_yaxes(automargin=True)
    return Chart(key, title, caption, figure=figure.to_json().replace("</", "<\\/"), wide=wide)


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def _figure(
    width: float, height: float, ncols: int = 1, nrows: int = 1
) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes.ravel()


def _empty(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#666")
    ax.set_xticks([])
    ax.set_yticks([])


# --- distributions -------------------------------------------------------------------------------


def histograms(minutes: Freq, completion: Freq, users: pd.DataFrame) -> Figure:
    """Watch minutes and completion per session, lifetime hours per user, with mean and median.

    Session variables arrive as frequency tables (value, count); a histogram of a table weighted
    by its counts is the histogram of the sessions.
    """
    fig, axes = _figure(13, 3.6, ncols=3)
    panels = (
        (minutes, "Watch minutes per session", "minutes", 40),
        (completion, "Completion per session", "completion %", 36),
        (
            Freq.from_sample(
                pd.to_numeric(users["lifetime_hours"], errors="coerce").to_numpy(dtype=float)
            ),
            "Lifetime watch hours per user",
            "hours",
            40,
        ),
    )
    for ax, (f, title, unit, bins) in zip(axes, panels):
        if f.n == 0:
            _empty(ax, "no values")
            continue
        ax.hist(
            f.values,
            bins=bins,
            weights=f.counts,
            color="#4c72b0",
            alpha=0.85,
            edgecolor="white",
            linewidth=0.5,
        )
        ax.axvline(
            f.mean(), color="#c44e52", linestyle="-", linewidth=1.5, label=f"mean {f.mean():,.1f}"
        )
        ax.axvline(
            f.median(),
            color="#222",
            linestyle="--",
            linewidth=1.2,
            label=f"median {f.median():,.1f}",
        )
        ax.set_title(f"{title} (n = {f.n:,})")
        ax.set_xlabel(unit)
        ax.set_ylabel("count")
        ax.legend(loc="upper right", frameon=True)
    return fig


def box_stats(f: Freq, label: str) -> dict[str, Any]:
    """matplotlib's box statistics (whiskers at 1.5 × IQR) of a frequency table.

    Fliers are the distinct values beyond the whiskers: repeated values would be drawn on
    top of each other anyway.
    """
    q1, med, q3 = (float(v) for v in f.percentile([25, 50, 75]))
    low, high = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    inside = f.values[(f.values >= low) & (f.values <= high)]
    return {
        "label": label,
        "med": med,
        "q1": q1,
        "q3": q3,
        "mean": f.mean(),
        "whislo": float(inside.min()) if inside.size else q1,
        "whishi": float(inside.max()) if inside.size else q3,
        "fliers": f.values[(f.values < low) | (f.values > high)],
    }


def boxplots_by_plan(completion_by_plan: Mapping[str, Freq], users: pd.DataFrame) -> Figure:
    """Per-user log minutes, per-session completion and lifetime hours by plan (outliers shown)."""
    fig, axes = _figure(13, 3.8, ncols=3)
    per_user = lambda column: {
        str(p): Freq.from_sample(g[column].to_numpy(dtype=float)) for p, g in users.groupby("plan")
    }
    panels = (
        (per_user("watch_minutes"), "Watch minutes per user (session log)", "minutes"),
        (completion_by_plan, "Completion per session", "completion %"),
        (per_user("lifetime_hours"), "Lifetime watch hours per user", "hours"),
    )
    for ax, (groups, title, unit) in zip(axes, panels):
        order = [p for p in PLANS if p in groups and groups[p].n > 0]
        if not order:
            _empty(ax, "no values")
            continue
        boxes = ax.bxp(
            [box_stats(groups[p], f"{p}\nn = {groups[p].n:,}") for p in order],
            patch_artist=True,
            showfliers=True,
            flierprops={
                "markersize": 2,
                "marker": "d",
                "markerfacecolor": "#444",
                "markeredgecolor": "#444",
            },
            medianprops={"color": "#222"},
            widths=0.6,
        )
        for patch, p in zip(boxes["boxes"], order):
            patch.set_facecolor(PLAN_COLOURS[p])
        ax.set_title(title)
        ax.set_xlabel("")
        ax.set_ylabel(unit)
    return fig


# --- clusters ------------------------------------------------------------------------------------


def cluster_pca(assignments: pd.DataFrame, explained: Sequence[float] | None) -> Figure:
    """Users on the first two principal components, coloured by k-means cluster."""
    fig, axes = _figure(6.4, 5.0)
    ax = axes[0]
    clusters = sorted(assignments["kmeans_cluster"].unique())
    palette = sns.color_palette("tab10", len(clusters))
    for colour, cluster in zip(palette, clusters):
        part = assignments[assignments["kmeans_cluster"] == cluster]
        ax.scatter(
            part["pc1"],
            part["pc2"],
            s=9,
            alpha=0.6,
            color=colour,
            label=f"cluster {cluster} (n = {len(part):,})",
        )
    ev = list(explained or [])
    ax.set_xlabel(f"PC1 ({ev[0]:.0%} of variance)" if len(ev) > 0 else "PC1")
    ax.set_ylabel(f"PC2 ({ev[1]:.0%} of variance)" if len(ev) > 1 else "PC2")
    ax.set_title("Users by k-means cluster (PCA of standardised features)")
    ax.legend(markerscale=2, fontsize=8, loc="best")
    return fig


def silhouette_by_k(scores: Mapping[int, float], chosen: int | None) -> Figure:
    """Mean silhouette of k-means for each k; the chosen k highlighted."""
    fig, axes = _figure(6.4, 5.0)
    ax = axes[0]
    ks = sorted(scores)
    ax.plot(ks, [scores[k] for k in ks], marker="o", color="#4c72b0")
    if chosen is not None and chosen in scores:
        ax.scatter(
            [chosen],
            [scores[chosen]],
            s=160,
            facecolors="none",
            edgecolors="#c44e52",
            linewidths=2,
            label=f"chosen k = {chosen}",
            zorder=3,
        )
        ax.legend(loc="best")
    ax.set_xticks(ks)
    ax.set_xlabel("k (number of clusters)")
    ax.set_ylabel("mean silhouette")
    ax.set_title("k-means: silhouette by k")
    return fig


def dendrogram(linkage: np.ndarray, k: int | None, n_users: int) -> Figure:
    """Ward dendrogram of the sampled users, truncated to its last merges; the k-cluster cut drawn."""
    from scipy.cluster.hierarchy import dendrogram as draw_dendrogram

    fig, axes = _figure(12, 4.2)
    ax = axes[0]
    draw_dendrogram(
        linkage,
        ax=ax,
        truncate_mode="lastp",
        p=40,
        show_leaf_counts=True,
        leaf_rotation=90,
        leaf_font_size=7,
        color_threshold=_cut_height(linkage, k),
        above_threshold_color="#999",
    )
    if k is not None and 1 < k <= linkage.shape[0]:
        ax.axhline(
            _cut_height(linkage, k),
            color="#c44e52",
            linestyle="--",
            linewidth=1,
            label=f"cut into {k} clusters",
        )
        ax.legend(loc="upper right")
    ax.set_title(
        f"Ward hierarchical clustering of {n_users:,} sampled users (last 40 merges; leaf labels = users)"
    )
    ax.set_ylabel("Ward linkage distance")
    ax.grid(False, axis="x")
    return fig


def _cut_height(linkage: np.ndarray, k: int | None) -> float:
    # A horizontal line between the (n-k)th and (n-k+1)th merge heights cuts the tree into k groups.
    if k is None or k < 2 or k > linkage.shape[0]:
        return 0.0
    heights = np.sort(linkage[:, 2])
    return float((heights[-k] + heights[-k + 1]) / 2) if k > 1 else float(heights[-1])


# --- interactive (Plotly) ------------------------------------------------------------------------
# Each returns a plotly Figure for :func:`interactive`; hover shows the exact values, legend
# entries toggle their series.


def _go() -> Any:
    import plotly.graph_objects as go

    return go


def correlation_heatmap(
    matrices: Mapping[str, pd.DataFrame],
    significant: Mapping[str, pd.DataFrame],
    labels: Mapping[str, str],
) -> Any:
    """One annotated heatmap per method, a button switches between them; '*' = Holm p below alpha."""
    go = _go()
    fig = go.Figure()
    methods = list(matrices)
    for i, method in enumerate(methods):
        m = matrices[method].astype(float)
        sig = significant.get(method)
        stars = (
            sig.reindex_like(m).fillna(False).to_numpy(dtype=bool)
            if sig is not None
            else np.zeros(m.shape, dtype=bool)
        )
        text = [
            ["" if pd.isna(v) else f"{v:.2f}{'*' if s else ''}" for v, s in zip(row, srow)]
            for row, srow in zip(m.to_numpy(), stars)
        ]
        names = [labels.get(c, c) for c in m.columns]
        fig.add_trace(
            go.Heatmap(
                z=m.to_numpy(),
                x=names,
                y=names,
                text=text,
                texttemplate="%{text}",
                zmin=-1,
                zmax=1,
                colorscale="RdBu",
                reversescale=True,
                visible=i == 0,
                name=method,
                colorbar={"thickness": 12, "len": 0.8},
                hovertemplate=f"{method} r(%{{x}}, %{{y}}) = %{{z:.3f}}<extra></extra>",
            )
        )
    if len(methods) > 1:
        fig.update_layout(
            updatemenus=[
                {
                    "type": "buttons",
                    "direction": "right",
                    "x": 0,
                    "y": 1.02,
                    "xanchor": "left",
                    "yanchor": "bottom",
                    "buttons": [
                        {
                            "label": method.capitalize(),
                            "method": "restyle",
                            "args": [{"visible": [j == i for j in range(len(methods))]}],
                        }
                        for i, method in enumerate(methods)
                    ],
                }
            ]
        )
    fig.update_layout(height=440, yaxis={"autorange": "reversed"})
    return fig


def _model_curves(
    curves: Mapping[str, pd.DataFrame],
    labels: Mapping[str, str],
    mode: str,
    hover: str,
    diagonal: str,
    axes: tuple[str, str],
    low: float = 0.0,
) -> Any:
    """One line per model from its series points, beside the dotted diagonal y = x."""
    go = _go()
    fig = go.Figure()
    for model, points in curves.items():
        pts = points.sort_values("point_index")
        name = labels.get(model, model)
        fig.add_trace(go.Scatter(x=pts["x"], y=pts["y"], mode=mode, name=name, hovertemplate=hover))
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name=diagonal,
            line={"dash": "dot", "color": "#999"},
            hoverinfo="skip",
        )
    )
    fig.update_layout(
        height=380,
        xaxis={"title": axes[0], "range": [low, 1]},
        yaxis={"title": axes[1], "range": [low, 1.01]},
    )
    return fig


def roc_curves(curves: Mapping[str, pd.DataFrame], labels: Mapping[str, str]) -> Any:
    """ROC curve of each model on held-out users, with the chance diagonal."""
    return _model_curves(
        curves,
        labels,
        "lines",
        "false positives %{x:.2f}, true positives %{y:.2f}",
        "chance",
        ("false positive rate", "true positive rate"),
    )


def calibration(curves: Mapping[str, pd.DataFrame], labels: Mapping[str, str]) -> Any:
    """Observed retention against mean predicted probability per bin; the diagonal is perfect."""
    lowest = min(
        (min(float(p["x"].min()), float(p["y"].min())) for p in curves.values()), default=1.0
    )
    return _model_curves(
        curves,
        labels,
        "lines+markers",
        "predicted %{x:.3f}, observed %{y:.3f}",
        "perfectly calibrated",
        ("mean predicted probability (bin)", "observed share retained"),
        low=max(0.0, lowest - 0.05),
    )


def monthly_trend(monthly: pd.DataFrame) -> Any:
    """Sessions per calendar month (bars) and distinct active users (line, right axis)."""
    go = _go()
    labels = [pd.Timestamp(m).strftime("%Y-%m") for m in monthly["month"]]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=monthly["sessions"],
            name="sessions",
            marker_color="#4c72b0",
            hovertemplate="%{x}: %{y:,} sessions<extra></extra>",
        )
    )
    if "active_users" in monthly:
        fig.add_trace(
            go.Scatter(
                x=labels,
                y=monthly["active_users"],
                name="active users",
                yaxis="y2",
                mode="lines+markers",
                marker_color="#dd8452",
                hovertemplate="%{x}: %{y:,} active users<extra></extra>",
            )
        )
    fig.update_layout(
        height=340,
        xaxis={"type": "category"},
        yaxis={"title": "sessions"},
        yaxis2={
            "title": "active users",
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
            "tickmode": "auto",  # its own round ticks, not the sessions axis' grid
        },
    )
    return fig


def weekday_trend(weekday: pd.DataFrame) -> Any:
    """Mean sessions per calendar day by weekday, with a 95 % CI over the days."""
    go = _go()
    error = None
    if {"ci_low", "ci_high"} <= set(weekday.columns) and weekday["ci_low"].notna().all():
        error = {
            "type": "data",
            "symmetric": False,
            "array": (weekday["ci_high"] - weekday["value"]).to_numpy(),
            "arrayminus": (weekday["value"] - weekday["ci_low"]).to_numpy(),
        }
    fig = go.Figure(
        go.Bar(
            x=[str(n)[:3] for n in weekday["weekday"]],
            y=weekday["value"],
            error_y=error,
            marker_color="#55a868",
            name=weekday.attrs.get("unit", "sessions per day"),
            hovertemplate="%{x}: %{y:,.1f} sessions per day<extra></extra>",
        )
    )
    fig.update_layout(height=340, yaxis={"title": weekday.attrs.get("unit", "sessions per day")})
    return fig


def top10(performance: pd.DataFrame, content_type: str) -> Any:
    """Top 10 titles of one type by sessions (genre scope 'All genres'), best on top."""
    go = _go()
    part = performance[performance["content_type"] == content_type].sort_values(
        "performance_rank", ascending=False
    )
    fig = go.Figure(
        go.Bar(
            x=part["session_count"],
            y=[f"{t} ({c})" for t, c in zip(part["title"], part["content_id"])],
            orientation="h",
            marker_color="#4c72b0" if content_type == "movie" else "#dd8452",
            customdata=np.stack(
                [part["watch_hours"], part["mean_completion_percentage"], part["views"]], axis=-1
            )
            if {"watch_hours", "views"} <= set(part.columns)
            else None,
            hovertemplate=(
                "%{y}<br>%{x:,} sessions<br>%{customdata[0]:,.0f} watch hours<br>"
                "mean completion %{customdata[1]:.1f} %<br>catalogue views %{customdata[2]:,}"
                "<extra></extra>"
            ),
        )
    )
    fig.update_layout(height=360, xaxis={"title": "sessions in the log"})
    return fig


def device_completion(devices: pd.DataFrame) -> Any:
    """Mean completion per device with its 95 % confidence interval (from the mart)."""
    go = _go()
    d = devices.sort_values("mean_completion_percentage")
    mean = d["mean_completion_percentage"].astype(float)
    fig = go.Figure(
        go.Scatter(
            x=mean,
            y=d["device_type"],
            mode="markers",
            marker={"size": 10, "color": "#4c72b0"},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": (d["completion_ci95_upper"].astype(float) - mean).to_numpy(),
                "arrayminus": (mean - d["completion_ci95_lower"].astype(float)).to_numpy(),
            },
            customdata=np.stack(
                [
                    d["completion_ci95_lower"].astype(float),
                    d["completion_ci95_upper"].astype(float),
                    d["session_count"],
                ],
                axis=-1,
            ),
            hovertemplate=(
                "%{y}: %{x:.2f} % [%{customdata[0]:.2f}, %{customdata[1]:.2f}]"
                "<br>%{customdata[2]:,} sessions<extra></extra>"
            ),
            name="mean completion",
        )
    )
    fig.update_layout(height=300, xaxis={"title": "mean completion % (95% CI)"})
    return fig


def active_users(executive: pd.DataFrame) -> Any:
    """Daily, weekly and monthly active users over the log."""
    go = _go()
    fig = go.Figure()
    days = pd.to_datetime(executive["activity_date"])
    for column, label in (
        ("monthly_active_users", "MAU (30 days)"),
        ("weekly_active_users", "WAU (7 days)"),
        ("daily_active_users", "DAU"),
    ):
        fig.add_trace(
            go.Scatter(
                x=days,
                y=executive[column].astype(float),
                name=label,
                mode="lines",
                hovertemplate="%{y:,.0f}",
            )
        )
    fig.update_layout(height=340, hovermode="x unified", yaxis={"title": "users"})
    return fig


def revenue_by_month(revenue: pd.DataFrame) -> Any:
    """Modelled revenue per month, stacked by plan."""
    go = _go()
    table = revenue.pivot_table(
        index="revenue_month", columns="subscription_type", values="revenue_usd", aggfunc="sum"
    ).fillna(0.0)
    labels = [pd.Timestamp(m).strftime("%Y-%m") for m in table.index]
    fig = go.Figure(
        [
            go.Bar(
                x=labels,
                y=table[plan].astype(float),
                name=plan,
                marker_color=PLAN_COLOURS[plan],
                hovertemplate=f"{plan} %{{x}}: $%{{y:,.0f}}<extra></extra>",
            )
            for plan in [p for p in PLANS if p in table.columns]
        ]
    )
    fig.update_layout(
        height=340, barmode="stack", xaxis={"type": "category"}, yaxis={"title": "USD (modelled)"}
    )
    return fig


def geographic(countries: pd.DataFrame) -> Any:
    """Users per country (top) and watch hours per active user (bottom), countries ranked by users."""
    from plotly.subplots import make_subplots

    go = _go()
    d = countries.sort_values("user_count", ascending=False)
    per_user = d["watch_hours"].astype(float) / d["active_user_count"].astype(float)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    fig.add_trace(
        go.Bar(
            x=d["country"],
            y=d["user_count"],
            name="users",
            marker_color="#4c72b0",
            hovertemplate="%{x}: %{y:,} users<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=d["country"],
            y=per_user,
            name="watch hours per active user",
            marker_color="#55a868",
            hovertemplate="%{x}: %{y:,.1f} watch hours per active user<extra></extra>",
        ),
        row=2,
        col=1,
    )
    fig.update_yaxes(title_text="users", row=1, col=1)
    fig.update_yaxes(title_text="hours / active user", row=2, col=1)
    fig.update_layout(height=460)
    return fig
