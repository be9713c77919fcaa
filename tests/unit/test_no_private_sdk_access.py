"""Only ``otelkit._sdk_compat`` touches the OpenTelemetry SDK's private API.

Every private attribute the SDK defines (``self._x = ...`` in its code, ``_x`` in its class
bodies) is collected from the installed SDK's source; otelkit's source is then read for
accesses to one of those names on anything but the module's own ``self``/``cls``, for
``getattr``-style accesses by string, for ``self._x`` in a subclass of an SDK class that does
not define ``_x`` itself, and for imports from ``opentelemetry.*._internal`` or of a private
name. ``_sdk_compat`` probes each such access at ``init_telemetry()`` and has a fallback.

The exporter plugins of ``plugins/`` are scanned too, and must reach otelkit only through its
public names: no ``otelkit._x`` module or ``otelkit.<package>._x``, no private name imported.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import opentelemetry.sdk
import pytest

import otelkit

SOURCE = Path(otelkit.__file__).parent
REPOSITORY = Path(__file__).resolve().parents[2]
PLUGIN_SOURCES = sorted((REPOSITORY / "plugins").glob("*/src"))
ALLOWED = {SOURCE / name for name in ("_sdk_compat.py", "_sdk_export.py", "_sdk_otlp.py")}
ALLOWED.add(SOURCE / "_sdk_lean.py")
PUBLIC_UNDERSCORE_MODULES = {"_logs", "_incubating", "_log_exporter"}
"""Underscored module names that are the documented import path (the SDK's logs signal, the
semantic conventions' incubating attributes, the OTLP log exporters): no public alternative."""
_BY_STRING = {"getattr", "hasattr", "setattr", "delattr"}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


@functools.cache
def sdk_private_names() -> frozenset[str]:
    """Every private attribute and method name the installed SDK defines on its objects."""
    names: set[str] = set()
    for path in Path(next(iter(opentelemetry.sdk.__path__))).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                if isinstance(node.value, ast.Name) and node.value.id == "self":
                    names.add(node.attr)
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        names.add(item.name)
                    elif isinstance(item, ast.Assign):
                        names.update(t.id for t in item.targets if isinstance(t, ast.Name))
    return frozenset(name for name in names if _private(name))


def _defined_in(cls: ast.ClassDef) -> set[str]:
    """Names a class body defines or assigns on ``self`` (its own, not the SDK's)."""
    own = {
        item.name for item in cls.body if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    for node in ast.walk(cls):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id == "self":
                own.add(node.attr)
        elif isinstance(node, ast.Assign):
            own.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return own


def _sdk_classes(tree: ast.Module) -> set[str]:
    """Names this module imported from ``opentelemetry`` (candidate SDK base classes)."""
    return {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("opentelemetry")
        for alias in node.names
    }


def _otelkit_names(tree: ast.Module) -> set[str]:
    """Names this module imported from otelkit: their private attributes are otelkit's own."""
    return {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and (node.level or (node.module or "").startswith("otelkit"))
        for alias in node.names
    }


def private_accesses(path: Path) -> list[str]:
    """``line: what`` for each private SDK access in one otelkit module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    sdk_names = sdk_private_names()
    own = {"self", "cls", *_otelkit_names(tree)}
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("opentelemetry"):
            parts = set((node.module or "").split("."))
            if any(_private(p) for p in parts - PUBLIC_UNDERSCORE_MODULES):
                found.append(f"{node.lineno}: from {node.module} import ...")
            found.extend(
                f"{node.lineno}: from {node.module} import {a.name}"
                for a in node.names
                if _private(a.name) and a.name not in PUBLIC_UNDERSCORE_MODULES
            )
        elif isinstance(node, ast.Import):
            found.extend(
                f"{node.lineno}: import {a.name}"
                for a in node.names
                if a.name.startswith("opentelemetry") and "._internal" in a.name
            )
        elif isinstance(node, ast.Attribute) and node.attr in sdk_names:
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in own:
                continue
            if isinstance(owner, ast.Call) and getattr(owner.func, "id", None) == "super":
                continue
            found.append(f"{node.lineno}: {ast.unparse(node)}")
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) in _BY_STRING
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in sdk_names
        ):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    sdk_bases = _sdk_classes(tree)
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        if not any(getattr(base, "id", None) in sdk_bases for base in cls.bases):
            continue
        own = _defined_in(cls)
        found.extend(
            f"{node.lineno}: {ast.unparse(node)} (inherited from the SDK)"
            for node in ast.walk(cls)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
            and node.attr in sdk_names
            and node.attr not in own
        )
    return sorted(found, key=lambda entry: int(entry.split(":")[0]))


MODULES = sorted(p for p in SOURCE.rglob("*.py") if p not in ALLOWED)
PLUGIN_MODULES = sorted(p for source in PLUGIN_SOURCES for p in source.rglob("*.py"))


def _otelkit_module(name: str) -> bool:
    return name == "otelkit" or name.startswith("otelkit.")


def private_otelkit_uses(path: Path) -> list[str]:
    """``line: what`` for each use of a private otelkit module or name in one plugin module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        module = (node.module or "") if isinstance(node, ast.ImportFrom) else ""
        if isinstance(node, ast.ImportFrom) and not node.level and _otelkit_module(module):
            if any(_private(part) for part in module.split(".")):
                found.append(f"{node.lineno}: from {module} import ...")
            found.extend(
                f"{node.lineno}: from {module} import {a.name}"
                for a in node.names
                if _private(a.name)
            )
        elif isinstance(node, ast.Import):
            found.extend(
                f"{node.lineno}: import {a.name}"
                for a in node.names
                if _otelkit_module(a.name) and any(_private(p) for p in a.name.split("."))
            )
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            owner = ast.unparse(node.value)
            if _otelkit_module(owner):  # otelkit._active, otelkit.exporters._plugin
                found.append(f"{node.lineno}: {ast.unparse(node)}")
    return sorted(found, key=lambda entry: int(entry.split(":")[0]))


def test_the_sdk_private_names_are_found() -> None:
    """The scan knows the names otelkit used to touch (else it would pass vacuously)."""
    assert {
        "_collect",
        "_set_collect_callback",
        "_instrument_class_temporality",
        "_measurement_consumer",
        "_attributes_aggregation",
        "_export_lock",
        "_update_resource",
        "_sdk_config",
        "_active_span_processor",
    } <= sdk_private_names()


def test_the_scan_finds_each_kind_of_access(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text(
        "from opentelemetry.sdk.metrics._internal.instrument import _Counter\n"
        "from opentelemetry.sdk.metrics import _Gauge\n"
        "from opentelemetry.sdk.metrics.export import MetricReader\n"
        "provider._measurement_consumer._lock = None\n"
        "hasattr(reader, '_export_lock')\n"
        "class Reader(MetricReader):\n"
        "    def ready(self):\n"
        "        return self._collect is not None\n"
    )
    assert [line.split(":")[0] for line in private_accesses(module)] == [
        "1", "1", "2", "4", "4", "5", "8",
    ]  # fmt: skip


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SOURCE)))
def test_only_sdk_compat_touches_the_sdk_private_api(path: Path) -> None:
    assert private_accesses(path) == [], "move it into otelkit/_sdk_compat.py, with a probe"


def test_the_plugin_sources_are_found() -> None:
    """Each plugin's source is scanned (else the plugin tests below would pass vacuously)."""
    assert {p.parent.name for p in PLUGIN_SOURCES} >= {"cloudwatch", "azure-monitor"}
    assert all(any(source in p.parents for p in PLUGIN_MODULES) for source in PLUGIN_SOURCES)


@pytest.mark.parametrize(
    "path", PLUGIN_MODULES, ids=lambda p: str(p.relative_to(REPOSITORY / "plugins"))
)
def test_plugins_do_not_touch_the_sdk_private_api(path: Path) -> None:
    assert private_accesses(path) == [], "a plugin has no _sdk_compat: use the SDK's public API"


def test_the_otelkit_scan_finds_each_kind_of_private_use(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text(
        "from otelkit import _active\n"
        "from otelkit._errors import ConfigError\n"
        "from otelkit.exporters._plugin import ExporterPlugin\n"
        "import otelkit._sdk_compat\n"
        "import otelkit\n"
        "otelkit._active.current()\n"
        "from otelkit.exporters import ConfigError, ExporterPlugin\n"
        "from otelkit_cloudwatch._emf import records\n"
        "from . import _sinks\n"
    )
    assert [line.split(":")[0] for line in private_otelkit_uses(module)] == [
        "1", "2", "3", "4", "6",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "path", PLUGIN_MODULES, ids=lambda p: str(p.relative_to(REPOSITORY / "plugins"))
)
def test_plugins_use_only_public_otelkit_names(path: Path) -> None:
    assert private_otelkit_uses(path) == [], "a plugin may use only otelkit's public API"
