"""Terminal rendering of a ValidationReport: one row per suite, then the expectations that need a look."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from streamlytics.validation.report import ExpectationOutcome, ValidationReport


def suites_table(report: ValidationReport) -> Table:
    """Per suite: expectations evaluated and met, failed errors and failed warnings."""
    table = Table(
        "suite",
        "expectations",
        "met",
        "errors",
        "warnings",
        "verdict",
        title=f"GX validation: {report.stage}",
    )
    for suite in report.suites:
        outcomes = [o for o in report.outcomes if o.suite == suite]
        errors = sum(o.fatal for o in outcomes)
        warnings = sum(not o.success and not o.fatal for o in outcomes)
        verdict = (
            "[red]fail[/]"
            if errors
            else ("[yellow]pass, warnings[/]" if warnings else "[green]pass[/]")
        )
        table.add_row(
            suite,
            str(len(outcomes)),
            str(sum(o.success for o in outcomes)),
            _count(errors, "red"),
            _count(warnings, "yellow"),
            verdict,
        )
    return table


def expectations_table(report: ValidationReport, everything: bool = False) -> Table | None:
    """The failed expectations (errors first), or every expectation when `everything`; None if nothing to show."""
    rows = (
        report.outcomes
        if everything
        else sorted(
            (o for o in report.outcomes if not o.success), key=lambda o: (not o.fatal, o.suite)
        )
    )
    if not rows:
        return None
    table = Table(title="expectations" if everything else "failed expectations")
    table.add_column("suite.check", overflow="fold", ratio=3)
    table.add_column("result")
    table.add_column("observed", ratio=2)
    table.add_column("sample", overflow="fold", ratio=2)
    if everything:
        table.add_column("expectation", overflow="fold", ratio=3)
    for o in rows:
        row = [o.name, _result(o), escape(o.observed), escape(", ".join(repr(v) for v in o.sample))]
        table.add_row(*row, *([_short_type(o)] if everything else []))
    return table


def _result(o: ExpectationOutcome) -> str:
    if o.success:
        return f"[green]met[/] ({o.severity})"
    return "[red]error[/]" if o.fatal else f"[yellow]{o.severity}[/]"


def _short_type(o: ExpectationOutcome) -> str:
    name = o.expectation_type.removeprefix("expect_")
    return f"{name}({o.column})" if o.column else name


def _count(n: int, colour: str) -> str:
    return f"[{colour}]{n}[/]" if n else "0"
