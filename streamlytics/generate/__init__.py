"""Synthetic data in the course layout (users.csv, content.json, viewing_sessions.csv).

Entry point: :func:`generate_dataset`. See docs/generator.md for fidelity, scaling, defects
and determinism.
"""

from streamlytics.generate.dataset import generate_dataset

__all__ = ["generate_dataset"]
