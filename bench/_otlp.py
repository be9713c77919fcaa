"""What the benchmarks that export real OTLP share: the receiver process and otelkit's counts.

``Sink`` runs bench/apps/otlp_sink.py in its own process (optionally pinned to a CPU) and reads
how many spans it has received per ``service.name``. ``prometheus_total`` reads a sum of
samples from otelkit's own Prometheus endpoint, e.g. the requests its duration histogram counted
or the spans it dropped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import otelkit

ROOT = Path(__file__).resolve().parent.parent


def pin(cpu: int) -> list[str]:
    """A ``taskset`` prefix that keeps a process on one CPU (none with fewer than two CPUs), so
    that the measured process and the load generator or receiver do not share one."""
    if (os.cpu_count() or 1) < 2 or shutil.which("taskset") is None:
        return []
    return ["taskset", "-c", str(cpu)]


@dataclass
class Sink:
    process: subprocess.Popen[str]
    port: int

    @classmethod
    def start(cls, prefix: list[str] | None = None) -> Sink:
        """The receiver in a new process; ``prefix`` e.g. a ``taskset`` command."""
        process = subprocess.Popen(
            [*(prefix or []), sys.executable, "-m", "bench.apps.otlp_sink"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.isdigit():
            process.kill()
            process.wait()
            raise RuntimeError(f"the OTLP sink did not start (it said {line!r})")
        sink = cls(process, int(line))
        deadline = time.monotonic() + 10
        while True:
            try:
                sink.spans()
                return sink
            except OSError:
                if time.monotonic() > deadline:
                    sink.stop()
                    raise
                time.sleep(0.05)

    @property
    def endpoint(self) -> str:
        """The base URL for ``OTEL_EXPORTER_OTLP_ENDPOINT`` (``/v1/traces`` is appended)."""
        return f"http://127.0.0.1:{self.port}"

    def spans(self, service: str | None = None) -> int:
        """Spans received so far: of one ``service.name``, or in all."""
        url = f"{self.endpoint}/counts"
        with urllib.request.urlopen(url, timeout=10) as response:
            counts: dict[str, int] = json.loads(response.read())["spans"]
        return counts.get(service, 0) if service is not None else sum(counts.values())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def prometheus_total(prefix: str) -> float:
    """The sum of otelkit's Prometheus samples whose line starts with ``prefix`` (0 if none)."""
    out: list[str] = []
    body = otelkit.metrics_wsgi()({}, lambda status, headers: out.append(status))
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in b"".join(body).decode().splitlines()
        if line.startswith(prefix)
    )
