"""``python -m otelkit.ops.rules``: rewrite the generated examples under the current directory."""

from __future__ import annotations

from pathlib import Path

from otelkit.ops.rules._docs import write_all

if __name__ == "__main__":
    write_all(Path.cwd())
