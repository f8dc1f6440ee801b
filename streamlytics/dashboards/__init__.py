"""The five web dashboards as one offline HTML page built from the marts (no Tableau licence)."""

from streamlytics.dashboards.build import build_dashboards

__all__ = ["build_dashboards"]
