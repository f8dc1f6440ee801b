"""Statistics over the Postgres core: descriptive, data quality, inferential tests, correlations,
clustering, a retention model, popularity regressions, trends and the seed's claims as hypotheses.

Entry point: :func:`python_models.analyze.run_analysis` (CLI: ``streamlytics analyze``). Every
number is computed from the database at run time and written to the ``analysis`` schema (and a
summary to MongoDB); see docs/statistics.md.
"""
