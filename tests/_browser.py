"""Pages in a real browser: Debian's headless Chromium driven by Playwright (no browser download).

One browser per test module (``launch``); each page records every console error, uncaught
exception and request that would leave the file (``open_page``), so a test can assert that a
page works offline and quietly.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
LOCAL = ("file:", "data:", "blob:", "about:")


@contextmanager
def launch() -> Iterator[Any]:
    """A headless Chromium for the module; fails (never skips) when the browser is missing."""
    if not Path(CHROMIUM).exists():
        pytest.fail("headless Chromium is needed: `apt-get install chromium` (make test does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: Any, path: Path, width: int, height: int, ready: str) -> tuple[Any, list]:
    """Open ``path`` at ``width`` × ``height``, wait for the selector ``ready``; (page, problems)."""
    page = browser.new_page(viewport={"width": width, "height": height})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "request",
        lambda r: problems.append(f"request {r.url}") if not r.url.startswith(LOCAL) else None,
    )
    page.goto(path.as_uri())
    page.wait_for_selector(ready)
    return page, problems


def number(text: str) -> float:
    """A number as the pages show it: '$1,234', '76.5 %', '4,897'."""
    return float(text.replace(",", "").replace("$", "").replace("%", "").strip())
