"""mkdocs hooks: the docs' ``fragment`` fence marker, understood by the site's Markdown.

The pages mark code that cannot run alone as ```` ```python fragment ```` (the docs test
skips running it); GitHub renders that as Python, but Python-Markdown's fences take only a
language, so the site drops the marker before rendering.
"""

from __future__ import annotations

import re
from typing import Any

FRAGMENT = re.compile(r"^(```+\s*[\w+-]+)\s+fragment\s*$", re.MULTILINE)


def on_page_markdown(markdown: str, **_: Any) -> str:
    return FRAGMENT.sub(r"\1", markdown)
