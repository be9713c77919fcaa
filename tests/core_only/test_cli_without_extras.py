"""Without the cli extra, the ``otelkit`` command names the extra instead of an ImportError."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.core_only


def _otelkit_command() -> str:
    beside = Path(sys.executable).with_name("otelkit")
    found = str(beside) if beside.exists() else shutil.which("otelkit")
    assert found, "the otelkit entry point is not installed"
    return found


@pytest.mark.parametrize("argv", [[], ["doctor"], ["version"]])
def test_the_command_names_the_cli_extra(argv: list[str]) -> None:
    ran = subprocess.run(
        [_otelkit_command(), *argv], capture_output=True, text=True, check=False, timeout=60
    )
    assert ran.returncode == 2
    assert "pip install 'otelkit[cli]'" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_python_dash_m_otelkit_is_the_same_command() -> None:
    ran = subprocess.run(
        [sys.executable, "-m", "otelkit", "version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert ran.returncode == 2
    assert "otelkit[cli]" in ran.stderr
