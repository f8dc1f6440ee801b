"""The value domains the suites read, from the dbt project so they are declared once.

dbt_project.yml `vars` hold the canonical spellings (countries, plans, devices, qualities,
genres). dbt staging maps values onto them (and quarantines a plan, device or quality outside
them); the GX raw suites report how far a delivery's spelling drifts from them, and the mart
suites expect every country, device and genre. The row-rule ranges are vars too, read by dbt
alone: staging owns those rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Domains:
    countries: tuple[str, ...]
    subscription_types: tuple[str, ...]
    device_types: tuple[str, ...]
    quality_levels: tuple[str, ...]
    genres: tuple[str, ...]


_LISTS = ("countries", "subscription_types", "device_types", "quality_levels", "genres")


def load_domains(dbt_project_dir: Path) -> Domains:
    """Domains from `dbt_project_dir`/dbt_project.yml; a clear error names any missing var."""
    path = dbt_project_dir / "dbt_project.yml"
    try:
        variables = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("vars") or {}
    except OSError as exc:
        raise FileNotFoundError(f"{path}: cannot read the dbt project's vars ({exc})") from exc
    missing = [name for name in _LISTS if name not in variables]
    if missing:
        raise KeyError(
            f"{path}: vars {', '.join(missing)} are missing; the validation suites need them"
        )
    return Domains(**{name: tuple(str(v) for v in variables[name]) for name in _LISTS})
