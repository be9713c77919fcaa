"""``python -m otelkit.ops.dashboard``: rewrite docs/generated/dashboard.json under the current
directory."""

from __future__ import annotations

from pathlib import Path

from otelkit.ops.dashboard._example import write_example

if __name__ == "__main__":
    write_example(Path.cwd())
