"""The report's charts: each function draws one figure from data frames and returns it as a PNG.

Figures are built with matplotlib's object API (``Figure`` without pyplot), so no global backend
or pyplot state is touched: rendering is Agg, in memory, safe in a pipeline process. The look
(seaborn's whitegrid style) is applied through ``rc_context`` for the duration of one figure
only. Every function takes plain frames or dicts; what they show is read from the database by
:mod:`python_models.report.sources`, never computed here beyond layout (sorting, pivoting).
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
    """One rendered chart: an id for the page, a title, a caption and the PNG bytes."""

    key: str
    title: str
    caption: str
    png: bytes
    width: int
    height: int

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
    return Chart(key, title, caption, png, width, height)


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


# --- correlations --------------------------------------------------------------------------------


def correlation_heatmap(
    matrices: Mapping[str, pd.DataFrame],
    significant: Mapping[str, pd.DataFrame],
    labels: Mapping[str, str],
) -> Figure:
    """One annotated heatmap per method; '*' marks a Holm-adjusted p below alpha."""
    fig, axes = _figure(6.2 * len(matrices), 5.2, ncols=max(1, len(matrices)))
    if not matrices:
        _empty(axes[0], "no correlations persisted")
        return fig
    for ax, (method, m) in zip(axes, matrices.items()):
        sig = significant.get(method)
        annot = m.map(lambda v: "" if pd.isna(v) else f"{v:.2f}")
        if sig is not None:
            annot = annot + sig.reindex_like(m).fillna(False).map(lambda s: "*" if s else "")
        sns.heatmap(
            m.astype(float),
            ax=ax,
            vmin=-1,
            vmax=1,
            center=0,
            cmap="vlag",
            annot=annot.to_numpy(),
            fmt="",
            square=True,
            linewidths=0.5,
            cbar_kws={"shrink": 0.75},
            annot_kws={"fontsize": 9},
        )
        names = [labels.get(c, c) for c in m.columns]
        ax.set_xticks(np.arange(len(names)) + 0.5, names, rotation=35, ha="right")
        ax.set_yticks(np.arange(len(names)) + 0.5, names, rotation=0)
        ax.set_title(f"{method.capitalize()} correlation (per user)")
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


# --- retention -----------------------------------------------------------------------------------


def roc_curves(curves: Mapping[str, pd.DataFrame], labels: Mapping[str, str]) -> Figure:
    """ROC curve of each model on held-out users, with the chance diagonal."""
    fig, axes = _figure(6.4, 5.0)
    ax = axes[0]
    if not curves:
        _empty(ax, "retention model not evaluated")
        return fig
    for model, points in curves.items():
        pts = points.sort_values("point_index")
        ax.plot(pts["x"], pts["y"], linewidth=2, label=labels.get(model, model))
    ax.plot([0, 1], [0, 1], color="#999", linestyle=":", label="chance")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("Retention model: ROC on held-out users")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def calibration(curves: Mapping[str, pd.DataFrame], labels: Mapping[str, str]) -> Figure:
    """Observed retention against mean predicted probability per bin; the diagonal is perfect."""
    fig, axes = _figure(6.4, 5.0)
    ax = axes[0]
    if not curves:
        _empty(ax, "retention model not evaluated")
        return fig
    for model, points in curves.items():
        pts = points.sort_values("point_index")
        ax.plot(pts["x"], pts["y"], marker="o", linewidth=1.5, label=labels.get(model, model))
    lo = min(min(float(p["x"].min()), float(p["y"].min())) for p in curves.values())
    ax.plot([0, 1], [0, 1], color="#999", linestyle=":", label="perfectly calibrated")
    ax.set_xlim(max(0.0, lo - 0.05), 1)
    ax.set_ylim(max(0.0, lo - 0.05), 1.01)
    ax.set_xlabel("mean predicted probability (bin)")
    ax.set_ylabel("observed share retained")
    ax.set_title("Retention model: calibration")
    # Below the axes: with a high base rate the points crowd every corner of the plot.
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", fontsize=8, ncols=1)
    return fig


# --- trends --------------------------------------------------------------------------------------


def monthly_trend(monthly: pd.DataFrame) -> Figure:
    """Sessions and active users per calendar month (bars) with mean completion (line)."""
    fig, axes = _figure(7, 4.2)
    ax = axes[0]
    labels = [pd.Timestamp(m).strftime("%Y-%m") for m in monthly["month"]]
    ax.bar(labels, monthly["sessions"], color="#4c72b0", alpha=0.85, label="sessions")
    ax.set_ylabel("sessions")
    ax.set_title("Viewing by month (watch_date)")
    ax.tick_params(axis="x", rotation=45)
    if "active_users" in monthly:
        twin = ax.twinx()
        twin.plot(
            labels, monthly["active_users"], color="#dd8452", marker="o", label="active users"
        )
        twin.set_ylabel("active users")
        twin.grid(False)
        twin.set_ylim(0, float(monthly["active_users"].max()) * 1.15)
        handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        ax.legend(handles, [h.get_label() for h in handles], loc="lower right", fontsize=8)
    return fig


def weekday_trend(weekday: pd.DataFrame) -> Figure:
    """Mean sessions per calendar day by weekday, with a 95 % CI over the days."""
    fig, axes = _figure(7, 4.2)
    ax = axes[0]
    names = [str(n)[:3] for n in weekday["weekday"]]
    yerr = None
    if {"ci_low", "ci_high"} <= set(weekday.columns) and weekday["ci_low"].notna().all():
        yerr = np.vstack(
            [weekday["value"] - weekday["ci_low"], weekday["ci_high"] - weekday["value"]]
        )
    ax.bar(
        names, weekday["value"], yerr=yerr, capsize=4, color="#55a868", alpha=0.85, ecolor="#333"
    )
    ax.set_ylabel(weekday.attrs.get("unit", "sessions per day"))
    ax.set_title("Viewing by weekday (watch_date)")
    return fig


# --- content and devices -------------------------------------------------------------------------


def top10(performance: pd.DataFrame) -> Figure:
    """Top 10 movies and top 10 series by sessions (genre scope 'All genres')."""
    fig, axes = _figure(13, 4.6, ncols=2)
    for ax, content_type, colour in zip(axes, ("movie", "series"), ("#4c72b0", "#dd8452")):
        part = performance[performance["content_type"] == content_type].sort_values(
            "performance_rank"
        )
        if part.empty:
            _empty(ax, f"no {content_type} ranked")
            continue
        labels = [f"{t} ({c})" for t, c in zip(part["title"], part["content_id"])]
        ax.barh(labels[::-1], part["session_count"].to_numpy()[::-1], color=colour)
        for y, v in enumerate(part["session_count"].to_numpy()[::-1]):
            ax.text(v, y, f" {int(v):,}", va="center", fontsize=8)
        ax.set_xlabel("sessions")
        ax.set_title(f"Top 10 {'movies' if content_type == 'movie' else 'series'} by sessions")
        ax.set_xlim(0, float(part["session_count"].max()) * 1.15)
    return fig


def device_completion(devices: pd.DataFrame) -> Figure:
    """Mean completion per device with its 95 % confidence interval (from the mart)."""
    fig, axes = _figure(7, 3.4)
    ax = axes[0]
    d = devices.sort_values("mean_completion_percentage")
    y = np.arange(d.shape[0])
    mean = d["mean_completion_percentage"].astype(float).to_numpy()
    err = np.vstack(
        [
            mean - d["completion_ci95_lower"].astype(float),
            d["completion_ci95_upper"].astype(float) - mean,
        ]
    )
    ax.errorbar(mean, y, xerr=err, fmt="o", color="#4c72b0", ecolor="#333", capsize=4)
    ax.set_yticks(
        y, [f"{dev} (n = {int(n):,})" for dev, n in zip(d["device_type"], d["session_count"])]
    )
    ax.set_xlabel("mean completion % (95% CI)")
    ax.set_title("Completion by device")
    return fig


# --- dashboards ----------------------------------------------------------------------------------


def active_users(executive: pd.DataFrame) -> Figure:
    """Daily, weekly and monthly active users over the log."""
    fig, axes = _figure(13, 3.6)
    ax = axes[0]
    days = pd.to_datetime(executive["activity_date"])
    for column, label in (
        ("monthly_active_users", "MAU (30 days)"),
        ("weekly_active_users", "WAU (7 days)"),
        ("daily_active_users", "DAU"),
    ):
        ax.plot(days, executive[column].astype(float), label=label, linewidth=1.3)
    ax.set_ylabel("users")
    ax.set_title("Active users per day")
    ax.legend(loc="center right", ncols=3, fontsize=8)
    return fig


def revenue_by_month(revenue: pd.DataFrame) -> Figure:
    """Modelled revenue per month, stacked by plan."""
    fig, axes = _figure(7, 4.0)
    ax = axes[0]
    table = revenue.pivot_table(
        index="revenue_month", columns="subscription_type", values="revenue_usd", aggfunc="sum"
    ).fillna(0.0)
    labels = [pd.Timestamp(m).strftime("%Y-%m") for m in table.index]
    bottom = np.zeros(table.shape[0])
    for plan in [p for p in PLANS if p in table.columns]:
        values = table[plan].astype(float).to_numpy()
        ax.bar(labels, values, bottom=bottom, color=PLAN_COLOURS[plan], label=plan)
        bottom += values
    ax.set_ylabel("USD (modelled)")
    ax.set_title("Modelled revenue by month and plan")
    ax.tick_params(axis="x", rotation=45)
    ax.set_ylim(0, float(bottom.max()) * 1.18 if bottom.size else 1)
    ax.legend(fontsize=8, ncols=3, loc="upper center")
    return fig


def geographic(countries: pd.DataFrame) -> Figure:
    """Users per country and watch hours per active user."""
    fig, axes = _figure(7, 4.0, ncols=2)
    d = countries.sort_values("user_count", ascending=False)
    axes[0].bar(d["country"], d["user_count"], color="#4c72b0")
    axes[0].set_title("Users per country")
    axes[0].tick_params(axis="x", rotation=45)
    per_user = d["watch_hours"].astype(float) / d["active_user_count"].astype(float)
    axes[1].bar(d["country"], per_user, color="#55a868")
    axes[1].set_title("Watch hours per active user")
    axes[1].tick_params(axis="x", rotation=45)
    return fig
