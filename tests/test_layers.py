"""Orchestration sits on top of the library: no library module imports flows/ (read from the
source's imports, so an import inside a function counts too)."""

from __future__ import annotations

import ast
from pathlib import Path

from streamlytics.config import PROJECT_ROOT

LIBRARY = ("streamlytics", "mongo", "python_models")
ORCHESTRATION_IN_LIBRARY = {Path("streamlytics/cli.py")}  # the command line: it runs the flows


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import statement in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            if node.module == "flows":  # from flows import pipeline
                found += [(node.lineno, f"flows.{alias.name}") for alias in node.names]
    return found


def test_imported_modules_sees_every_form_of_import(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "import os\nimport flows.ingest\n"
        "def f():\n    from flows import pipeline\n    from flows.backfill import x\n"
    )
    names = [name for _, name in imported_modules(source)]
    assert {"flows.ingest", "flows", "flows.pipeline", "flows.backfill"} <= set(names)


def test_no_library_module_imports_the_orchestration_layer() -> None:
    offenders = []
    for package in LIBRARY:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            relative = path.relative_to(PROJECT_ROOT)
            if relative in ORCHESTRATION_IN_LIBRARY:
                continue
            for line, module in imported_modules(path):
                if module == "flows" or module.startswith("flows."):
                    offenders.append(f"{relative}:{line} imports {module}")
    assert offenders == [], "the library must not import flows/: " + "; ".join(offenders)
