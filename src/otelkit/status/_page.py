"""The status page: one HTML document assembled from the package's static files.

``_static/`` holds the page (``status.html``), its style and script, and uPlot 1.6.32 (MIT,
``uPlot.LICENSE`` beside it; ``dist/uPlot.iife.min.js`` and ``dist/uPlot.min.css`` of
github.com/leeoniya/uPlot at dd3ffc5). Everything is inlined into one response, so the page
works offline, behind any mount point, with one request, and its Content-Security-Policy
forbids loading anything else (scripts only by their hashes, data only from its own origin).
The page carries no data: it reads ``status.json``, whose address it is given.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import re
from importlib import resources

__all__ = ["FILES", "page", "weight"]

FILES = ("status.html", "status.css", "status.js", "uPlot.min.css", "uPlot.iife.min.js")
_SLOT = re.compile(r"\{\{(\w+)\}\}")


def _static(name: str) -> str:
    return (resources.files("otelkit.status") / "_static" / name).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def _parts() -> tuple[str, dict[str, str], str]:
    """The template, what fills its slots, and the Content-Security-Policy."""
    slots = {
        "css": _static("status.css"),
        "js": _static("status.js"),
        "uplot_css": _static("uPlot.min.css"),
        "uplot_js": _static("uPlot.iife.min.js"),
    }
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(slots[s].encode()).digest()).decode() + "'"
        for s in ("uplot_js", "js")
    )
    policy = (
        f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )
    return _static("status.html"), slots, policy


@functools.lru_cache(maxsize=16)
def page(json_url: str) -> tuple[bytes, str]:
    """The page reading ``json_url``, and its Content-Security-Policy."""
    template, slots, policy = _parts()
    filled = {**slots, "json_url": html.escape(json_url, quote=True)}
    body = _SLOT.sub(lambda match: filled[match.group(1)], template)
    return body.encode("utf-8"), policy


def weight() -> int:
    """Bytes of the page as served (HTML, CSS and JavaScript, uPlot included)."""
    return len(page("/status.json")[0])
