"""``set_gauge()`` under forked workers: each live process reports its own last value with
``process_pid``; a child starts with none of its parent's values, and its series end with it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest
import requests

from tests.fixtures.servers import free_port, wait_until

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.integration

PROGRAM = """
import json, os, signal, sys
import otelkit

otelkit.init_telemetry(service_name="outbox", prometheus_port=int(sys.argv[1]))
otelkit.set_gauge("outbox.depth", 5, queue="mail")

children = []
for index in range(2):
    go_r, go_w = os.pipe()
    child = os.fork()
    if child == 0:
        otelkit.set_gauge("outbox.depth", 10 * (index + 1), queue="sms")
        os.read(go_r, 1)
        os._exit(0)
    children.append(child)

print(json.dumps({"parent": os.getpid(), "children": children}), flush=True)
input()  # the test scrapes
for child in children:
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
print(json.dumps({"phase": "children ended"}), flush=True)
input()
"""
_SERIES = re.compile(r"^outbox_depth\{([^}]*)\} (\S+)$", re.M)


def depths(port: int) -> dict[tuple[int, str], float]:
    """(process_pid, queue) -> value of every ``outbox_depth`` series of one scrape."""
    body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    found = {}
    for labels, value in _SERIES.findall(body):
        pairs = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        found[(int(pairs["process_pid"]), pairs["queue"])] = float(value)
    return found


def test_each_live_process_reports_its_own_last_value(tmp_path: Path) -> None:
    (tmp_path / "outbox.py").write_text(textwrap.dedent(PROGRAM))
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
    program = subprocess.Popen(
        [sys.executable, "outbox.py", str(port)],
        cwd=tmp_path,
        env=environ,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert program.stdin is not None
    assert program.stdout is not None
    try:
        started = json.loads(program.stdout.readline())
        parent, (first, second) = started["parent"], started["children"]
        expected = {(parent, "mail"): 5, (first, "sms"): 10, (second, "sms"): 20}
        seen: dict[tuple[int, str], float] = {}

        def every_process_published() -> bool:
            nonlocal seen
            seen = depths(port)
            return seen == expected

        wait_until(every_process_published, timeout=20, what="each process's own last value")

        program.stdin.write("\n")
        program.stdin.flush()
        assert json.loads(program.stdout.readline())["phase"] == "children ended"
        wait_until(
            lambda: depths(port) == {(parent, "mail"): 5},
            timeout=20,
            what="only the parent's series once the children ended",
        )
    finally:
        program.kill()
        program.wait()
        program.stdin.close()
        program.stdout.close()
