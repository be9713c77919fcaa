"""The public surface: declared once in ``__all__``, importable cheaply, nothing else leaks."""

from __future__ import annotations

import json
import subprocess
import sys

import otelkit

HEAVY_MODULES = (
    "opentelemetry.sdk",
    "fastapi",
    "starlette",
    "flask",
    "django",
    "sqlalchemy",
    "celery",
    "psutil",
    "grpc",
    "requests",
    "opentelemetry.exporter",
    "prometheus_client",
)


def test_all_lists_exactly_the_public_names() -> None:
    """Every name in __all__ resolves, and no other public name is reachable on the package."""
    for name in otelkit.__all__:
        assert getattr(otelkit, name) is not None
    # "@py_builtins", "@pytest_ar": pytest rewrites the asserts of a plugin's distribution
    # (otelkit's pytest11 plugin), adding those to each module it rewrites.
    public = {name for name in vars(otelkit) if not name.startswith(("_", "@"))}
    # once imported
    subpackages = {
        "alerting",
        "cli",
        "config",
        "exporters",
        "health",
        "instrumentation",
        "metrics",
        "ops",
        "runtime",
        "status",
        "testing",
        "tracing",
    }
    assert public - subpackages == set(otelkit.__all__) - {"__version__"}
    assert dir(otelkit) == sorted(otelkit.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    assert not hasattr(otelkit, "init_telemetri")


def test_import_otelkit_pulls_in_no_framework_or_transport() -> None:
    """`import otelkit` stays cheap: frameworks, psutil and gRPC load only when used."""
    code = (
        "import sys, json, otelkit; "
        f"print(json.dumps([m for m in {list(HEAVY_MODULES)!r} if m in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == []


def test_init_with_prometheus_loads_no_otlp_or_grpc() -> None:
    """Only the chosen exporters are imported."""
    code = (
        "import sys, json, otelkit; otelkit.init_telemetry('x', prometheus_port=0); "
        "print(json.dumps([m for m in ('grpc', 'opentelemetry.exporter.otlp.proto.http', "
        "'requests') if m in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == []


def _wsgi_get(headers: dict[str, str]) -> tuple[str, dict[str, str], bytes]:
    captured: dict[str, object] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        captured["status"] = status
        captured["headers"] = dict(response_headers)

    body = b"".join(otelkit.metrics_wsgi()(headers, start_response))
    return captured["status"], captured["headers"], body  # type: ignore[return-value]


def test_gzip_only_when_the_client_accepts_it() -> None:
    """`Accept-Encoding: gzip;q=0` refuses gzip; `gzip` or `gzip;q=0.5` accepts it."""
    telemetry = otelkit.init_telemetry("enc", prometheus_port=0)
    for accept, gzipped in (
        ("gzip", True),
        ("br, gzip;q=0.5", True),
        ("gzip;q=0", False),
        ("identity", False),
    ):
        status, headers, _ = _wsgi_get({"HTTP_ACCEPT_ENCODING": accept})
        assert status == "200 OK"
        assert (headers.get("Content-Encoding") == "gzip") is gzipped, accept
    telemetry.shutdown()
