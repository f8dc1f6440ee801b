"""What a validation run found, in the project's terms: checks, severities, the gate's verdict.

GX marks a run unsuccessful when any expectation fails; the project's gate only fails on
expectations of severity ``critical`` (shown as *error*). Warnings are reported, never fatal.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from great_expectations.core.expectation_validation_result import (
    ExpectationSuiteValidationResult,
    ExpectationValidationResult,
)

SEVERITY_NAMES = {"critical": "error", "warning": "warning", "info": "info"}


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result on one suite's table."""

    suite: str
    check: str
    expectation_type: str
    column: str | None
    severity: str
    """error | warning | info"""
    success: bool
    observed: str
    """Short human summary: the observed value, or how many rows were unexpected."""
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    sample: list[Any] = field(default_factory=list)
    """A few unexpected values (column checks), for the terminal and the saved report."""
    error: str | None = None
    """The exception GX met while evaluating (e.g. a missing column), if any."""

    @property
    def name(self) -> str:
        return f"{self.suite}.{self.check}"

    @property
    def fatal(self) -> bool:
        return not self.success and self.severity == "error"


@dataclass
class ValidationReport:
    """The gate's verdict for one stage (raw, marts or all) and where its evidence lives."""

    stage: str
    outcomes: list[ExpectationOutcome]
    run_at: str
    data_docs_index: Path | None = None
    results_path: Path | None = None

    @property
    def passed(self) -> bool:
        """True when no expectation of error severity failed (warnings never fail the gate)."""
        return not any(o.fatal for o in self.outcomes)

    @property
    def failed_expectations(self) -> list[str]:
        """`suite.check` names of the failed error-severity expectations."""
        return [o.name for o in self.outcomes if o.fatal]

    @property
    def warnings(self) -> list[str]:
        """`suite.check` names of the failed expectations that do not fail the gate."""
        return [o.name for o in self.outcomes if not o.success and not o.fatal]

    @property
    def suites(self) -> list[str]:
        return list(dict.fromkeys(o.suite for o in self.outcomes))

    @property
    def counts(self) -> dict[str, int]:
        return {
            "suites": len(self.suites),
            "evaluated": len(self.outcomes),
            "succeeded": sum(o.success for o in self.outcomes),
            "failed_errors": len(self.failed_expectations),
            "failed_warnings": len(self.warnings),
        }

    def message(self) -> str:
        """One sentence for logs and gate failures, naming the failed error expectations."""
        c = self.counts
        head = (
            f"{self.stage} validation {'passed' if self.passed else 'FAILED'}: "
            f"{c['succeeded']}/{c['evaluated']} expectations met, "
            f"{c['failed_errors']} error(s), {c['failed_warnings']} warning(s)"
        )
        if self.passed:
            return head
        return f"{head}; failed: {', '.join(self.failed_expectations)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "run_at": self.run_at,
            "passed": self.passed,
            "counts": self.counts,
            "failed_expectations": self.failed_expectations,
            "warnings": self.warnings,
            "data_docs_index": str(self.data_docs_index) if self.data_docs_index else None,
            "outcomes": [asdict(o) for o in self.outcomes],
        }

    def save(self, path: Path) -> Path:
        """Write the report as JSON to `path` (parents created) and remember where."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
        self.results_path = path
        return path


def outcomes_from_suite_result(
    result: ExpectationSuiteValidationResult,
) -> list[ExpectationOutcome]:
    """One suite's results, in the suite's own order."""
    return [outcome_from_result(result.suite_name, r) for r in result.results]


def outcome_from_result(suite: str, result: ExpectationValidationResult) -> ExpectationOutcome:
    config = result.expectation_config
    kwargs = config.kwargs
    column = kwargs.get("column") or _pair(kwargs)
    details = result.result or {}
    error = _exception_message(result.exception_info or {})
    severity = getattr(config.severity, "value", config.severity) or "critical"
    return ExpectationOutcome(
        suite=suite,
        check=(config.meta or {}).get("check") or config.type,
        expectation_type=config.type,
        column=column,
        severity=SEVERITY_NAMES.get(str(severity), str(severity)),
        success=bool(result.success),
        observed=_observed(config.type, details, error),
        unexpected_count=details.get("unexpected_count"),
        unexpected_percent=_rounded(details.get("unexpected_percent")),
        sample=[
            _plain(v)
            for v in details.get("partial_unexpected_list")
            or details.get("partial_missing_list")
            or []
        ][:5],
        error=error,
    )


def _exception_message(info: dict[str, Any]) -> str | None:
    # GX reports an exception either flat ({"raised_exception": True, ...}) or, for a failed
    # metric, keyed by the metric's id ({"MetricConfigurationID(...)": {"exception_message": ...}}).
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "exception while evaluating").strip()
    for value in info.values():
        if isinstance(value, dict) and value.get("exception_message"):
            return str(value["exception_message"]).strip()
    return None


def _pair(kwargs: dict[str, Any]) -> str | None:
    if "column_A" in kwargs:
        return f"{kwargs['column_A']}, {kwargs['column_B']}"
    return None


def _observed(expectation_type: str, details: dict[str, Any], error: str | None) -> str:
    if error:
        return f"error: {error.splitlines()[0][:120]}"
    if expectation_type == "unexpected_rows_expectation":
        rows = details.get("observed_value", 0)
        return f"{rows} unexpected row{'' if rows == 1 else 's'}"
    # Column map results carry a missing_count too (their null rows), so rows come first.
    if details.get("unexpected_count") is not None:
        count = details["unexpected_count"]
        total = details.get("element_count")
        percent = _rounded(details.get("unexpected_percent")) or 0
        return (
            f"{count} of {total} ({percent:.3g}%)" if total is not None else f"{count} unexpected"
        )
    if details.get("missing_count") is not None:  # *_to_contain_set: values that should be there
        return f"{details['missing_count']} expected value(s) missing"
    observed = details.get("observed_value")
    if isinstance(observed, float):
        observed = round(observed, 3)
    if isinstance(observed, list) and len(observed) > 8:
        observed = [*observed[:8], "…"]
    return str(observed) if observed is not None else "-"


def _rounded(value: Any) -> float | None:
    return round(float(value), 3) if value is not None else None


def _plain(value: Any) -> Any:
    # Dates, Decimals and the like become strings so the report is plain JSON.
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
