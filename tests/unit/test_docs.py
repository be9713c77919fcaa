"""The documentation is generated from the code, and a test keeps it that way."""

from __future__ import annotations

from pathlib import Path

from otelkit.runtime import _config_docs

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_page_matches_the_settings_declarations() -> None:
    """docs/configuration.md is exactly what `nox -s docs` generates (run it after a change)."""
    generated = _config_docs.render(_config_docs.builtin_plugins())
    assert (ROOT / "docs" / "configuration.md").read_text() == generated


def _python_blocks(markdown: str) -> list[str]:
    blocks, inside, current = [], False, []
    for line in markdown.splitlines():
        if line.startswith("```python"):
            inside, current = True, []
        elif line.startswith("```") and inside:
            inside = False
            blocks.append("\n".join(current) + "\n")
        elif inside:
            current.append(line)
    return blocks


def test_readme_quickstart_type_checks_and_runs(tmp_path: Path) -> None:
    """The README's first example passes mypy --strict and runs as written."""
    import subprocess
    import sys

    (quickstart,) = _python_blocks((ROOT / "README.md").read_text())[:1]
    script = tmp_path / "quickstart.py"
    script.write_text(quickstart)
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--ignore-missing-imports", str(script)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    env = {**__import__("os").environ, "OTEL_EXPORTER_PROMETHEUS_PORT": "0"}
    ran = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, check=False
    )
    assert ran.returncode == 0, ran.stderr
