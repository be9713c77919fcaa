"""Exporter plugins installed the way a distribution installs them, for the fault suite.

``install_plugin`` writes a module and a ``*.dist-info`` with an ``otelkit.exporters`` entry
point into ``tmp_path`` and puts it on ``sys.path``: otelkit finds the plugin exactly as it
finds one installed with pip. The fixtures below are two such plugins; a test module imports
``slow_failing_plugin_fixture`` / ``slow_plugin_fixture`` and asks for ``slow_failing_plugin``
/ ``slow_plugin``.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

SLOW_FAILING_PLUGIN = """
import time
from opentelemetry.sdk.trace.export import SpanExporter
from otelkit.exporters import ExporterPlugin


class SlowFailing(SpanExporter):
    def export(self, spans):
        time.sleep(0.02)
        raise ConnectionError("the back end is gone")

    def shutdown(self):
        pass


class SlowFailingPlugin(ExporterPlugin):
    name = "slowfailing"
    signals = frozenset({"traces"})

    def span_exporter(self, resource):
        return SlowFailing()
"""

SLOW_EXPORT_SECONDS = 1.0

SLOW_PLUGIN = f"""
import threading
import time
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from otelkit.exporters import ExporterPlugin

EXPORTED_ON = []


class Slow(SpanExporter):
    def export(self, spans):
        EXPORTED_ON.append(threading.current_thread().name)
        time.sleep({SLOW_EXPORT_SECONDS})
        return SpanExportResult.SUCCESS

    def shutdown(self):
        pass


class SlowPlugin(ExporterPlugin):
    name = "slow"
    signals = frozenset({{"traces"}})
    batch = False

    def span_exporter(self, resource):
        return Slow()
"""


def install_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, module: str, entry_point: str, source: str
) -> None:
    """Install ``source`` as module ``module`` whose distribution declares ``entry_point``."""
    (tmp_path / f"{module}.py").write_text(source)
    info = tmp_path / f"{module}-1.0.dist-info"
    info.mkdir()
    name = module.replace("_", "-")
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[otelkit.exporters]\n{entry_point}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()


@pytest.fixture(name="slow_failing_plugin")
def slow_failing_plugin_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A plugin whose exports take 20 ms and raise; its name."""
    install_plugin(
        tmp_path,
        monkeypatch,
        module="otelkit_slow_failing",
        entry_point="slowfailing = otelkit_slow_failing:SlowFailingPlugin",
        source=SLOW_FAILING_PLUGIN,
    )
    yield "slowfailing"
    sys.modules.pop("otelkit_slow_failing", None)


@pytest.fixture(name="slow_plugin")
def slow_plugin_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A synchronous (``batch = False``) plugin whose exports take ``SLOW_EXPORT_SECONDS`` and
    succeed; its module records the thread of each export in ``EXPORTED_ON``."""
    install_plugin(
        tmp_path,
        monkeypatch,
        module="otelkit_slow_plugin",
        entry_point="slow = otelkit_slow_plugin:SlowPlugin",
        source=SLOW_PLUGIN,
    )
    yield "slow"
    sys.modules.pop("otelkit_slow_plugin", None)
