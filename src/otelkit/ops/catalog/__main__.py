"""``python -m otelkit.ops.catalog``: print docs/metrics.md (``nox -s docs`` writes it)."""

from otelkit.ops.catalog._catalog import Catalog, builtin
from otelkit.ops.catalog._markdown import render

print(render(Catalog(builtin())), end="")
