"""Real process models on this machine: servers started as subprocesses with default settings.

``start(command)`` runs a command in the copied ``apps/`` directory with an environment free of
``OTEL_*`` and ``OTELKIT_*`` variables (otelkit's defaults), its output in a log file, and stops
its whole process group at the end of the test. The metrics URL of each process is read from
otelkit's start-up line, never assumed: another process on the machine may hold port 9464.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.fixtures.scrape import Scrape, scrape_metrics
from tests.fixtures.servers import free_port, spawn_logged

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

APPS = Path(__file__).parent / "apps"
BIN = Path(sys.executable).parent
STARTUP = re.compile(r"otelkit: service '(?P<service>[^']*)' in (?P<environment>\w+): (?P<rest>.*)")
METRICS_AT = re.compile(r"metrics at (http://\S+/metrics)")


class Started:
    """One started command: its log, the metrics URLs it announced, requests to it."""

    def __init__(self, command: list[str], process: subprocess.Popen[bytes], log: Path) -> None:
        self.command = command
        self.process = process
        self.log_path = log

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 20.0, count: int = 1) -> list[re.Match[str]]:
        """The matches of ``pattern`` in the log, once there are ``count`` of them."""
        deadline = time.monotonic() + timeout
        while True:
            found = list(re.finditer(pattern, self.log()))
            if len(found) >= count:
                return found
            if self.process.poll() is not None:
                exited = f"{self.command} exited ({self.process.returncode}):\n"
                raise AssertionError(exited + self.log())
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} x{count} after {timeout} s:\n" + self.log())
            time.sleep(0.05)

    def metrics_urls(self, count: int = 1) -> list[str]:
        """The metrics URLs of the start-up lines so far (one per configured process)."""
        return [m.group(1) for m in self.wait_for(METRICS_AT.pattern, count=count)]

    def report_section(self) -> tuple[str, str]:
        return f"output of {' '.join(self.command)}", self.log()


def get(url: str, timeout: float = 15.0) -> str:
    """GET ``url``, retrying while the server is still starting."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return str(response.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def scrape(url: str) -> Scrape:
    get(url)  # the listener answers
    return scrape_metrics(url)


def serving_pid(result: Scrape) -> int:
    """The process.pid that a single-process scrape's target_info reports."""
    (labels, _), *_ = result.samples["target_info"]
    return int(labels["process_pid"])


def listening_ports(pid: int) -> set[int]:
    """The TCP ports ``pid`` listens on (from /proc: the sockets among its descriptors)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def default_environment(**extra: str) -> dict[str, str]:
    """This environment without OTEL_*/OTELKIT_* (otelkit's defaults), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
    env.pop("PYTHONPATH", None)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@pytest.fixture
def apps(tmp_path: Path) -> Path:
    """A private copy of the test applications (reloaders watch it, nothing else writes it)."""
    copy = tmp_path / "apps"
    shutil.copytree(APPS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


@pytest.fixture
def start(apps: Path, tmp_path: Path) -> Iterator[Callable[..., Started]]:
    """Start commands in the apps directory; all are stopped at the end of the test."""
    started: list[Started] = []

    def run(command: list[str], **env: str) -> Started:
        log = tmp_path / f"process-{len(started)}.log"
        process = spawn_logged(command, env=default_environment(**env), cwd=apps, log_path=log)
        started.append(Started(command, process, log))
        return started[-1]

    run.started = started  # type: ignore[attr-defined]  # for the failure report
    yield run
    for one in reversed(started):
        _stop_group(one.process)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the command's process group (its children too), SIGKILL after 1 s: how the
    servers shut down is not what these tests look at."""
    for sig, grace in ((signal.SIGTERM, 1.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        with contextlib.suppress(ProcessLookupError):  # the leader's children may remain
            os.killpg(process.pid, signal.SIGKILL)
        return


@pytest.fixture
def app_port() -> int:
    return free_port()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test shows the output of every command it started."""
    report = yield
    if report.failed:
        for value in getattr(item, "funcargs", {}).values():
            for one in getattr(value, "started", ()):
                report.sections.append(one.report_section())
    return report
