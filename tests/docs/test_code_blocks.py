"""Every code block of the README, the docs and the examples' READMEs runs, or says it cannot.

A block's info string decides what happens to it:

- ``python``: run as a script of its own (a fresh interpreter, an empty working directory, no
  telemetry variable of the test run, the Prometheus port free), and it must exit 0;
- ``bash``: run with ``bash -euo pipefail`` the same way;
- ``yaml``, ``json``, ``toml``: parsed; a YAML document with rule ``groups`` is checked by
  ``promtool check rules``, one with ``scrape_configs`` by ``promtool check config``;
- ``promql``: every expression is checked by ``promtool`` (inside a recording rule);
- ``… fragment`` (``python fragment``, ``bash fragment``, ``dockerfile fragment``…): a piece of a
  larger whole that cannot run alone; Python and bash fragments are still syntax-checked;
- ``text``: output shown to the reader, not code.

A block without an info string, or with a language not listed, fails: say what it is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.fixtures.servers import require_binary

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *(ROOT / "examples").rglob("README.md")]
)
PARSED = {"yaml", "json", "toml"}
NOT_CODE = {"text"}
TIMEOUT_S = 120


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    info: str
    text: str

    @property
    def language(self) -> str:
        return self.info.split()[0] if self.info else ""

    @property
    def fragment(self) -> bool:
        return "fragment" in self.info.split()[1:]

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks_of(page: Path) -> list[Block]:
    found: list[Block] = []
    info: str | None = None
    start, lines = 0, []
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        if line.startswith("```") and info is None:
            info, start, lines = line[3:].strip(), number, []
        elif line.startswith("```") and info is not None:
            found.append(Block(page, start, info, "\n".join(lines) + "\n"))
            info = None
        elif info is not None:
            lines.append(line)
    return found


ALL = [block for page in PAGES for block in blocks_of(page)]


def _environment(tmp_path: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
    environ.update(
        OTEL_EXPORTER_PROMETHEUS_PORT="0",  # a port of its own, whatever else runs
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}",
        HOME=str(tmp_path),
    )
    return environ


def _promtool_check(tmp_path: Path, document: object, what: str = "rules") -> None:
    """``promtool check rules`` (or ``check config``, the syntax alone: the files a
    configuration names, such as a token file, exist only where it is deployed)."""
    promtool = require_binary("promtool")
    path = tmp_path / f"{what}.yaml"
    path.write_text(yaml.safe_dump(document))
    options = ["--syntax-only"] if what == "config" else []
    checked = subprocess.run(
        [promtool, "check", what, *options, str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


CONTINUES = ("/", "*", "+", "-", ">", "<", "=", "!", ")", "}", "and ", "or ", "unless ", "by", "on")


def _promql(text: str) -> list[str]:
    """The expressions of a PromQL block: a line starts a new one when the previous ones are
    complete (brackets balanced, no operator left dangling) and it neither is indented nor
    starts with an operator."""
    expressions: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        code = "" if line.lstrip().startswith("#") else line.rstrip()
        if not code:
            continue
        joined = "\n".join(current)
        balanced = all(joined.count(a) == joined.count(b) for a, b in ("()", "[]", "{}"))
        dangling = bool(current) and current[-1].rstrip().endswith(CONTINUES[:8])
        if (
            current
            and balanced
            and not dangling
            and not line[0].isspace()
            and not line.startswith(CONTINUES)
        ):
            expressions.append(joined)
            current = []
        current.append(code)
    if current:
        expressions.append("\n".join(current))
    return expressions


@pytest.mark.parametrize("block", ALL, ids=str)
def test_code_block(block: Block, tmp_path: Path) -> None:
    language = block.language
    if not language:
        pytest.fail(f"{block}: a code block needs an info string (python, bash fragment, text…)")
    if language == "python":
        compile(block.text, str(block), "exec")  # fragments too: at least valid Python
    if language == "bash":
        syntax = subprocess.run(["bash", "-n"], input=block.text, text=True, check=False)
        assert syntax.returncode == 0, f"{block}: not valid bash"
    if block.fragment or language in NOT_CODE:
        return
    if language in {"python", "bash"}:
        command = [sys.executable, "-"] if language == "python" else ["bash", "-euo", "pipefail"]
        ran = subprocess.run(
            command,
            input=block.text,
            cwd=tmp_path,
            env=_environment(tmp_path),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
        assert ran.returncode == 0, f"{block} failed:\n{ran.stdout}\n{ran.stderr}"
    elif language == "yaml":
        documents = list(yaml.safe_load_all(block.text))
        for document in documents:
            if isinstance(document, dict) and "groups" in document:
                _promtool_check(tmp_path, document)
            # Debian's Prometheus is built without Kubernetes service discovery.
            kubernetes = "kubernetes_sd_configs" in block.text
            if isinstance(document, dict) and "scrape_configs" in document and not kubernetes:
                _promtool_check(tmp_path, document, "config")
    elif language == "json":
        json.loads(block.text)
    elif language == "toml":
        import tomllib  # Python 3.11+: the suite's own interpreter

        tomllib.loads(block.text)
    elif language == "promql":
        rules = [
            {"record": f"doc:expression_{n}", "expr": expression}
            for n, expression in enumerate(_promql(block.text))
        ]
        assert rules, f"{block}: an empty PromQL block"
        _promtool_check(tmp_path, {"groups": [{"name": "docs", "rules": rules}]})
    else:
        pytest.fail(
            f"{block}: {language!r} blocks are neither run nor parsed; mark it "
            f"'{language} fragment' if it cannot run alone, or 'text' if it is output"
        )
