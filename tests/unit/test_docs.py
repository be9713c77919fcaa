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


def _blocks(markdown: str) -> list[tuple[str, str]]:
    """Every fenced block: (info string, text)."""
    blocks: list[tuple[str, str]] = []
    info: str | None = None
    current: list[str] = []
    for line in markdown.splitlines():
        if line.startswith("```") and info is None:
            info, current = line[3:].strip(), []
        elif line.startswith("```") and info is not None:
            blocks.append((info, "\n".join(current)))
            info = None
        elif info is not None:
            current.append(line)
    return blocks


def test_readme_install_line_brings_what_the_quickstart_imports() -> None:
    blocks = _blocks((ROOT / "README.md").read_text())
    install = next(
        text for _, text in blocks if text.startswith('python3 -m pip install "otelkit[')
    )
    quickstart = next(text for info, text in blocks if info == "python")
    assert install.startswith('python3 -m pip install "otelkit[')
    imported = {
        line.split()[1].split(".")[0]
        for line in quickstart.splitlines()
        if line.startswith(("import ", "from "))
    }
    assert imported - {"otelkit"} <= set(install.split("#")[0].split())
    assert "uvicorn" in install  # the quickstart's run command


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, deadline: float) -> str:
    import time
    import urllib.request

    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return str(response.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_readme_quickstart_starts_with_its_own_command(tmp_path: Path) -> None:
    """The command under the quickstart serves it: the route answers and /metrics shows it."""
    import os
    import shlex
    import subprocess
    import sys
    import time

    blocks = _blocks((ROOT / "README.md").read_text())
    at = next(i for i, (info, _) in enumerate(blocks) if info == "python")
    (tmp_path / "app.py").write_text(blocks[at][1] + "\n")
    command = shlex.split(blocks[at + 1][1].splitlines()[0].split("#")[0])
    assert command[0] == "uvicorn", command
    port, metrics_port = _free_port(), _free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OTEL")}
    environ["OTEL_EXPORTER_PROMETHEUS_PORT"] = str(metrics_port)
    uvicorn = os.path.join(os.path.dirname(sys.executable), command[0])
    server = subprocess.Popen(
        [uvicorn, *command[1:], "--port", str(port)],
        cwd=tmp_path,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        assert _get(f"http://127.0.0.1:{port}/orders/1", deadline) == '{"order_id":1}'
        exposition = _get(f"http://127.0.0.1:{metrics_port}/metrics", deadline)
        assert 'http_route="/orders/{order_id}"' in exposition
        assert "orders_lookup_duration_seconds_count" in exposition
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
    # It stops cleanly on SIGTERM (uvicorn shuts down, then re-raises the signal).
    assert server.returncode in (0, -15), errors.decode()
    assert "Application shutdown complete" in errors.decode()


def test_readme_gives_two_commands_the_demo_and_the_tests_that_ci_runs() -> None:
    """The README's set-up commands: one runs the demo, one the tests, exactly as CI does."""
    (commands,) = [
        text for _, text in _blocks((ROOT / "README.md").read_text()) if "-s tests" in text
    ]
    lines = [line.split("#")[0].strip() for line in commands.splitlines() if line.strip()]
    assert len(lines) == 2
    assert lines[0].endswith("nox -s demo")
    assert lines[1].endswith("nox -s tests")
    assert lines[1] in (ROOT / ".ci" / "run").read_text()


def test_every_docs_page_is_in_the_site_navigation() -> None:
    """A page written but left out of mkdocs.yml's nav would be unreachable on the site."""
    import yaml

    def pages(entries: object) -> set[str]:
        if isinstance(entries, str):
            return {entries}
        if isinstance(entries, list):
            return set().union(*(pages(entry) for entry in entries))
        if isinstance(entries, dict):
            return set().union(*(pages(value) for value in entries.values()))
        return set()

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text().split("\nnav:")[0] + "\n") or {}
    assert config.get("strict") is True
    nav = yaml.safe_load("nav:" + (ROOT / "mkdocs.yml").read_text().split("\nnav:")[1])["nav"]
    written = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert written - pages(nav) == set()


def test_docs_speak_of_the_project_alone() -> None:
    """No page cites a design document or an issue number a reader cannot open."""
    import re

    pages = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *(ROOT / "examples").rglob("*.md")]
    internal = re.compile(r"DESIGN\.md|shared/|\bissue #?\d+|\btask #?\d+", re.IGNORECASE)
    cited = [
        f"{p.relative_to(ROOT)}: {m.group()}"
        for p in pages
        for m in internal.finditer(p.read_text())
    ]
    assert cited == []
