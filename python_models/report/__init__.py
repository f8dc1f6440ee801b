"""The HTML report: charts and plain-word findings from a persisted analysis run, in one offline file.

Entry point: :func:`build_report` (CLI: ``streamlytics report``); see docs/report.md.
"""

from python_models.report.build import build_report
from python_models.report.sources import ReportSourceError

__all__ = ["ReportSourceError", "build_report"]
