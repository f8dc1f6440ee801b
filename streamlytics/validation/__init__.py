"""Great Expectations gates on the raw landing and on the marts.

`run_validation(stage)` runs the committed GX checkpoint(s) for a stage against the database in
use and returns a :class:`ValidationReport`; the pipeline stops publishing when ``passed`` is
false. Suites are declared in Python (raw_suites.py, mart_suites.py) and written into the
committed file context under expectations/gx by `python -m streamlytics.validation.gx_context`.
"""

from streamlytics.validation.report import ExpectationOutcome, ValidationReport
from streamlytics.validation.run import STAGES, run_validation

__all__ = ["STAGES", "ExpectationOutcome", "ValidationReport", "run_validation"]
