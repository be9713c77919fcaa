"""``otelkit dashboard``: the JSON on standard output or in a file; bad input exits 2, named."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

import typer
from typer.testing import CliRunner

from otelkit.cli import _dashboard
from otelkit.ops.catalog import load_catalog
from otelkit.ops.dashboard import generate, render
from otelkit.ops.rules import parse_slo_flag

if TYPE_CHECKING:
    from pathlib import Path


def _command() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def group() -> None:
        """The otelkit command, with only this verb."""

    _dashboard.register(app)
    return app


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(_command(), ["dashboard", *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_dashboard_goes_to_standard_output() -> None:
    code, out, _ = run("--service", "shop", "--slo", "availability=99.9")
    assert code == 0
    slos = parse_slo_flag("availability=99.9")
    assert json.loads(out) == generate(load_catalog(None), service="shop", slos=slos)


def test_output_writes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "dashboard.json"
    code, out, err = run("--output", str(target))
    assert (code, out) == (0, "")
    assert f"wrote {target}" in err
    assert target.read_text() == render(generate(load_catalog(None), slos=()))


def test_an_application_that_cannot_be_imported_exits_2_naming_it() -> None:
    code, out, err = run("--app", "no_such_module_for_the_dashboard:app")
    assert (code, out) == (2, "")
    assert "no_such_module_for_the_dashboard" in err


def test_a_bad_slo_exits_2_naming_the_flag() -> None:
    code, _, err = run("--slo", "availability=lots")
    assert code == 2
    assert "--slo" in err
    assert "availability=lots" in err


def test_without_the_grafana_sdk_the_command_says_what_to_install() -> None:
    """As on Python 3.10, or without the cli extra: exit 2 and the pip command, no traceback."""
    script = (
        "import sys; sys.modules['grafana_foundation_sdk'] = None\n"
        "from otelkit.cli import main; sys.exit(main(['dashboard']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert "pip install 'otelkit[cli]'" in done.stderr
    assert "Traceback" not in done.stderr
