"""Make a built GX Data Docs site readable offline: its CSS/JS/images served from local files.

GX 1.x pages load Bootstrap, jQuery, bootstrap-table, Font Awesome and Vega from CDNs (and the
logo from S3 with the context id attached). The same releases are vendored, unmodified, under
expectations/static/vendor (sources and licences in its README.md); this module copies them into
the site and rewrites every page to point at them. Vega is dropped: only expectation types
the suites do not use draw charts. Any CDN asset this module does not know makes it fail, so a
GX upgrade that adds one cannot silently bring the network back.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from streamlytics.config import PROJECT_ROOT

VENDOR_DIR = PROJECT_ROOT / "expectations" / "static" / "vendor"
SITE_VENDOR = "static/vendor"
# Start time (ns) of the last make_offline pass that checked every page it had to.
PASS_FILE = ".offline_pass"

# CDN URL -> the vendored file(s) replacing it (paths under VENDOR_DIR).
CDN_ASSETS: dict[str, tuple[str, ...]] = {
    "https://code.jquery.com/jquery-3.7.1.min.js": ("jquery-3.7.1/jquery.min.js",),
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": (
        "popper.js-1.12.9/popper.min.js",
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        "bootstrap-4.3.1/bootstrap.min.js",
    ),
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        "bootstrap-4.3.1/bootstrap.min.css",
    ),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "bootstrap-dark-1.1.0/bootstrap-prefers-dark.min.css",
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        "bootstrap-table-1.19.1/bootstrap-table.min.css",
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        "bootstrap-table-1.19.1/bootstrap-table.min.js",
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
        "bootstrap-table-1.19.1/bootstrap-table-filter-control.min.js",
    ),
    # GX links the 1.19.0 stylesheet of the extension (minified or not); 1.19.1's is the same rules.
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
        "bootstrap-table-1.19.1/bootstrap-table-filter-control.min.css",
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": (
        "bootstrap-table-1.19.1/bootstrap-table-filter-control.min.css",
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker-1.9.0/bootstrap-datepicker.min.css",
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker-1.9.0/bootstrap-datepicker.min.js",
    ),
    # Only the solid style is used (fa-check-circle, fa-times, ...): core rules + solid font.
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "fontawesome-free-6.6.0/css/fontawesome.min.css",
        "fontawesome-free-6.6.0/css/solid.min.css",
    ),
}
DROPPED = {
    "https://cdn.jsdelivr.net/npm/vega@5",
    "https://cdn.jsdelivr.net/npm/vega-lite@5",
    "https://cdn.jsdelivr.net/npm/vega-embed@6",
}
GX_IMAGES = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
# GX's own logo files shipped in the site's static/images stand in for the S3 ones.
LOCAL_IMAGES = {"logo-long.png": "logo-long.png", "full_logo_dark.png": "logo-long.png"}

_TAG = re.compile(
    r"<(?P<tag>script|link)\b(?P<attrs>[^>]*?)/?>(?P<close>\s*</script>)?", re.IGNORECASE
)
_URL_ATTR = re.compile(r"""\b(?:src|href)\s*=\s*["'](?P<url>https?://[^"']+)["']""", re.IGNORECASE)
_GX_IMAGE = re.compile(re.escape(GX_IMAGES) + r"(?P<name>[\w.-]+)(?:\?[^\"')\s]*)?")
# GX's own relative links to the site's static/ folder (its favicon link is one level short on
# validation pages); rewritten from the page's real depth.
_STATIC_LINK = re.compile(r"""(?P<attr>\b(?:src|href)\s*=\s*["'])(?:\./|(?:\.\./)+)static/""")


class OfflineDocsError(RuntimeError):
    """A page still needs the network for its CSS/JS after the rewrite."""


def make_offline(site_dir: Path, vendor_dir: Path = VENDOR_DIR) -> Path:
    """Copy the vendored assets into `site_dir` and rewrite its pages; return its index.html.

    Idempotent: pages already rewritten are left as they are. Only pages written since the last
    complete pass are read: GX adds pages on every validation and rewrites only the index, so
    re-reading the whole history each time would make every validation slower than the last.
    The pass's start time is kept in `site_dir`/.offline_pass once every page passed; a page
    modified after it (or any page, without that file) is read again.
    """
    if not (site_dir / "index.html").is_file():
        raise FileNotFoundError(f"{site_dir} holds no Data Docs site (index.html missing)")
    # Margin: file times come from the kernel's coarse clock, which may lag time.time_ns().
    started = time.time_ns() - 2_000_000_000
    shutil.copytree(
        vendor_dir,
        site_dir / SITE_VENDOR,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("README.md"),
    )
    done_before = _last_pass(site_dir)
    for page in sorted(site_dir.rglob("*.html")):
        if SITE_VENDOR in page.relative_to(site_dir).as_posix():
            continue
        if done_before is not None and page.stat().st_mtime_ns < done_before:
            continue  # existed, unchanged, when an earlier pass rewrote and checked every page
        text = page.read_text(encoding="utf-8")
        rewritten = rewrite_page(text, _root_prefix(site_dir, page))
        remaining = remote_assets(rewritten)
        if remaining:
            raise OfflineDocsError(
                f"{page}: still loads {', '.join(remaining)} from the network; vendor it under "
                f"{vendor_dir} and map it in streamlytics/validation/offline_docs.py"
            )
        if rewritten != text:
            page.write_text(rewritten, encoding="utf-8")
    (site_dir / PASS_FILE).write_text(str(started))
    return site_dir / "index.html"


def _last_pass(site_dir: Path) -> int | None:
    try:
        return int((site_dir / PASS_FILE).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def rewrite_page(html: str, root: str) -> str:
    """`html` with CDN scripts/stylesheets and S3 images replaced by local files under `root`."""

    def tag(match: re.Match[str]) -> str:
        url_match = _URL_ATTR.search(match["attrs"])
        url = url_match["url"] if url_match else None
        if url in DROPPED:
            return f"<!-- offline Data Docs: {url.rsplit('/', 1)[-1]} not loaded (no suite draws charts) -->"
        if url not in CDN_ASSETS:
            return match[0]
        return "\n".join(
            _local_tag(match["tag"].lower(), f"{root}{SITE_VENDOR}/{path}")
            for path in CDN_ASSETS[url]
        )

    html = _TAG.sub(tag, html)
    html = _STATIC_LINK.sub(lambda m: f"{m['attr']}{root}static/", html)
    return _GX_IMAGE.sub(
        lambda m: f"{root}static/images/{LOCAL_IMAGES.get(m['name'], 'logo-long.png')}", html
    )


def remote_assets(html: str) -> list[str]:
    """http(s) URLs still loaded by a <script> or <link> tag of `html`."""
    urls = []
    for match in _TAG.finditer(html):
        url_match = _URL_ATTR.search(match["attrs"])
        if url_match:
            urls.append(url_match["url"])
    return sorted(set(urls))


def _local_tag(tag: str, path: str) -> str:
    # No integrity/crossorigin attributes: browsers refuse crossorigin loads from file:// pages.
    if tag == "script":
        return f'<script src="{path}"></script>'
    return f'<link rel="stylesheet" href="{path}">'


def _root_prefix(site_dir: Path, page: Path) -> str:
    relative = os.path.relpath(site_dir, page.parent)
    return "" if relative == "." else relative.replace(os.sep, "/") + "/"
