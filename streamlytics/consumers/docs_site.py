"""The documentation door: the dbt docs site as one offline page, beside the GX Data Docs.

``dbt docs generate --static`` writes a single HTML file with the manifest and catalog inlined,
so it opens from disk without a web server. This module runs it, makes sure the page fetches
nothing from the network (a Content-Security-Policy that forbids every remote origin, and no
remote stylesheet or script left in the markup), and copies it to ``reports/dbt_docs/index.html``.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

from streamlytics.config import Settings, settings

# Everything the page needs is inline; any remote origin (CDN, tracker) is refused by the browser.
OFFLINE_CSP = (
    "default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob:; "
    "connect-src 'self' data: blob:; form-action 'none'"
)
_REMOTE_TAG = re.compile(
    r"""<(?P<tag>script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//[^>]*>""",
    re.IGNORECASE,
)
_REMOTE_CSS = re.compile(r"""(?:@import\s+(?:url\()?|url\()\s*["']?(?:https?:)?//""", re.IGNORECASE)

# GX's local site when no validation report names its index (see streamlytics/validation).
GX_DOCS_DEFAULT = "gx/uncommitted/data_docs/local_site/index.html"  # under the GX project


class DocsError(RuntimeError):
    """The docs could not be built; the message says which step failed and why."""


@dataclass(frozen=True)
class DocsSite:
    dbt_index: Path
    """The offline dbt docs page (reports/dbt_docs/index.html)."""
    gx_index: Path | None
    """GX Data Docs' index.html when they have been built, else None."""
    marts: tuple[str, ...]
    """unique_id of every mart documented on the page."""


def remote_references(html: str) -> list[str]:
    """Every tag or CSS rule in the page that would load something from another host."""
    found = [m.group(0)[:200] for m in _REMOTE_TAG.finditer(html)]
    found += [html[m.start() : m.start() + 120] for m in _REMOTE_CSS.finditer(html)]
    return found


def make_offline(html: str) -> str:
    """The page with a CSP that forbids remote origins and without remote stylesheets.

    A remote stylesheet (web fonts) is dropped: the page falls back to local fonts. A remote
    script cannot be dropped without breaking the page, so it raises DocsError instead.
    """
    scripts = [m.group(0) for m in _REMOTE_TAG.finditer(html) if m.group("tag").lower() == "script"]
    if scripts:
        raise DocsError(
            f"the dbt docs page loads a remote script, so it cannot work offline: {scripts[0][:200]}"
        )
    html = _REMOTE_TAG.sub("", html)
    leftover = remote_references(html)
    if leftover:
        raise DocsError(f"the dbt docs page still loads from the network: {leftover[0]}")
    meta = f'<meta http-equiv="Content-Security-Policy" content="{OFFLINE_CSP}">'
    if "Content-Security-Policy" not in html:
        html, count = re.subn(r"<head\b[^>]*>", lambda m: m.group(0) + meta, html, count=1)
        if count != 1:
            raise DocsError("the dbt docs page has no <head>: unexpected dbt version?")
    return html


def inlined_manifest(html: str) -> dict:
    """The manifest dbt inlined into a static docs page, as the page's JavaScript reads it."""
    match = re.search(r'manifest:\s*(?=\{"metadata")', html)
    if match is None:
        raise DocsError(
            "no inlined manifest in the page: was it built with `dbt docs generate --static`?"
        )
    manifest, _ = json.JSONDecoder().raw_decode(html, match.end())
    return manifest


def mart_nodes(manifest: dict, schema: str = "marts") -> dict[str, dict]:
    """Models that are marts: built into the marts schema or kept under a models/marts folder."""
    return {
        uid: node
        for uid, node in manifest.get("nodes", {}).items()
        if node.get("resource_type") == "model"
        and (node.get("schema") == schema or "marts" in node["fqn"][1:-1])
    }


def _dbt_executable() -> str:
    local = Path(sys.executable).with_name("dbt")
    return str(local) if local.exists() else "dbt"


def generate_static_docs(project_dir: Path, target_dir: Path, env: dict[str, str]) -> Path:
    """Run ``dbt docs generate --static`` and return the path of static_index.html."""
    # A separate target folder keeps this run from racing a concurrent `dbt build` over target/.
    cmd = [
        _dbt_executable(), "docs", "generate", "--static",
        "--project-dir", str(project_dir),
        "--target-path", str(target_dir),
        "--log-path", str(target_dir / "logs"),
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    page = target_dir / "static_index.html"
    if proc.returncode != 0 or not page.is_file():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise DocsError(f"`dbt docs generate --static` failed (exit {proc.returncode}):\n{tail}")
    return page


def find_gx_docs(cfg: Settings, reports_dir: Path | None = None) -> Path | None:
    """The GX Data Docs index: where the last validation report says it is, else a known place."""
    for report in sorted(
        Path(reports_dir or cfg.reports_dir).joinpath("validation").glob("*.json")
    ):
        try:
            index = json.loads(report.read_text(encoding="utf-8")).get("data_docs_index")
        except (OSError, ValueError, AttributeError):
            continue
        if index and Path(index).is_file():
            return Path(index)
    default = cfg.gx_project_dir / GX_DOCS_DEFAULT
    if default.is_file():
        return default
    return None


def build_docs(
    project_dir: Path | None = None, reports_dir: Path | None = None, work_dir: Path | None = None
) -> DocsSite:
    """Build reports/dbt_docs/index.html (offline, one file) and locate the GX Data Docs.

    The dbt docs show every model, source and test with the lineage between them, and the
    column types of whatever has been built in the database the services point at.
    ``work_dir`` holds dbt's own output (default .state/dbt/docs-target).
    """
    from streamlytics import services

    cfg = settings()
    project_dir = Path(project_dir or cfg.dbt_project_dir)
    reports_dir = Path(reports_dir or cfg.reports_dir)
    if not (project_dir / "dbt_project.yml").is_file():
        raise DocsError(f"no dbt project at {project_dir} (dbt_project.yml is missing)")
    env = {**os.environ, **services.service_environment(cfg), "DO_NOT_TRACK": "1"}
    target = Path(work_dir or cfg.state_dir / "dbt" / "docs-target")
    page = generate_static_docs(project_dir, target, env)
    html = make_offline(page.read_text(encoding="utf-8"))
    manifest = inlined_manifest(html)
    out = reports_dir / "dbt_docs" / "index.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    # The catalog and manifest beside the page let other tools (and `--serve`) reuse them.
    for artefact in ("manifest.json", "catalog.json"):
        shutil.copyfile(target / artefact, out.parent / artefact)
    return DocsSite(out, find_gx_docs(cfg, reports_dir), tuple(sorted(mart_nodes(manifest))))


class _DocsHandler(SimpleHTTPRequestHandler):
    """Serves /dbt/ and /gx/ from their folders and a small index page at /."""

    mounts: ClassVar[dict[str, Path]] = {}

    def log_message(self, format: str, *args) -> None:
        pass  # the terminal belongs to the CLI; requests are not news

    def translate_path(self, path: str) -> str:
        for prefix, folder in self.mounts.items():
            if path == f"/{prefix}" or path.startswith(f"/{prefix}/"):
                self.directory = str(folder)
                return super().translate_path(path[len(prefix) + 1 :] or "/")
        return str(Path(self.directory) / "__missing__")

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] in ("/", "/index.html"):
            links = "".join(f'<li><a href="/{p}/">{p}</a></li>' for p in self.mounts)
            body = f"<!doctype html><title>Streamlytics docs</title><h1>Streamlytics docs</h1><ul>{links}</ul>"
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        super().do_GET()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A browser closing a tab mid-download is not an error worth a traceback.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


def serve_docs(site: DocsSite, port: int = 8080, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Start serving the docs in a background thread; call ``shutdown()`` on the result to stop.

    Port 0 picks a free port (read it from ``server.server_address``).
    """
    mounts = {"dbt": site.dbt_index.parent}
    if site.gx_index is not None:
        mounts["gx"] = site.gx_index.parent
    handler = type("DocsHandler", (_DocsHandler,), {"mounts": mounts})
    server = _QuietServer(
        (host, port), functools.partial(handler, directory=str(site.dbt_index.parent))
    )
    threading.Thread(target=server.serve_forever, name="docs-server", daemon=True).start()
    return server
