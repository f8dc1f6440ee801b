"""One persisted analysis run, as the report reads it from the ``analysis`` schema.

This module is the only place in the report that knows the analysis schema's table names; the
rest of the report works on :class:`AnalysisRun`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from python_models.report.sources import ReportSourceError, table_exists
from python_models.warehouse import query_frame


@dataclass
class AnalysisRun:
    run: dict[str, Any]  # the analysis.runs row
    results: pd.DataFrame  # analysis.results rows of the run (details as dicts)
    descriptive: pd.DataFrame | None  # analysis.descriptive rows of the run
    assignments: (
        pd.DataFrame | None
    )  # analysis.user_clusters: user_id, kmeans_cluster, ward_cluster, in_ward_sample, pc1, pc2
    profiles: (
        pd.DataFrame | None
    )  # analysis.clusters: method, cluster, n_users, feature, mean, median
    series: pd.DataFrame | None  # series, measure, point_index, x_label, x, y, n

    @property
    def run_id(self) -> Any:
        return self.run["run_id"]

    def series_named(self, prefix: str) -> dict[str, pd.DataFrame]:
        """Series whose name starts with ``prefix``, by the rest of the name (e.g. the model)."""
        if self.series is None or self.series.empty:
            return {}
        part = self.series[self.series["series"].astype(str).str.startswith(prefix)]
        return {
            name[len(prefix) :]: frame.sort_values("point_index").reset_index(drop=True)
            for name, frame in part.groupby("series", sort=True)
        }


def latest_run_id(conn: Any) -> Any:
    """The newest completed run, or ReportSourceError when there is none."""
    if not table_exists(conn, "analysis", "runs"):
        raise ReportSourceError(
            "schema analysis has no runs table: run the analysis first (`streamlytics analyze`)."
        )
    runs = query_frame(
        conn, "select run_id, finished_at from analysis.runs where status = 'completed'"
    )
    if runs.empty:
        raise ReportSourceError(
            "analysis.runs is empty: run the analysis first (`streamlytics analyze`)."
        )
    return runs.sort_values("finished_at", kind="stable").iloc[-1]["run_id"]


def _rows(
    conn: Any, table: str, run_id: Any, order: list[str], *, all_first: bool = False
) -> pd.DataFrame | None:
    """The run's rows of analysis.`table`, sorted by `order` in Python (byte order of strings).

    `all_first`: the last sort column is a group, and its 'all' row comes before the groups.
    """
    if not table_exists(conn, "analysis", table):
        return None
    frame = query_frame(conn, f"select * from analysis.{table} where run_id = %s", (run_id,))
    if all_first:
        frame = frame.assign(_is_group=frame[order[-1]] != "all")
        order = [*order[:-1], "_is_group", order[-1]]
    frame = frame.sort_values(order, kind="stable").drop(columns="_is_group", errors="ignore")
    frame = frame.reset_index(drop=True)
    for column in frame.columns:
        # numeric columns arrive as Decimal; the report formats floats.
        if frame[column].map(lambda v: v.__class__.__name__ == "Decimal").any():
            frame[column] = pd.to_numeric(frame[column]).astype("float64")
    return frame


def load(conn: Any, run_id: Any | None = None) -> AnalysisRun:
    """The given run (default: the latest) with every table the report uses."""
    run_id = latest_run_id(conn) if run_id is None else run_id
    runs = query_frame(conn, "select * from analysis.runs where run_id = %s", (run_id,))
    if runs.empty:
        raise ReportSourceError(f"analysis run {run_id!r} does not exist in analysis.runs.")
    results = _rows(conn, "results", run_id, ["result_id"])
    if results is None or results.empty:
        raise ReportSourceError(f"analysis run {run_id!r} has no rows in analysis.results.")
    return AnalysisRun(
        run=runs.iloc[0].to_dict(),
        results=results,
        descriptive=_rows(
            conn, "descriptive", run_id, ["level", "variable", "grp"], all_first=True
        ),
        assignments=_rows(conn, "user_clusters", run_id, ["user_id"]),
        profiles=_rows(conn, "clusters", run_id, ["method", "cluster", "feature"]),
        series=_rows(conn, "series", run_id, ["series", "point_index"]),
    )
