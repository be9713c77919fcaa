"""The checks of ``otelkit doctor``, each returning ``Finding``s: exporters, installed
packages, alert rules. Variable spelling is checked in ``_doctor_variables``.

A finding is ``ok``, a ``warning`` (worth knowing, nothing is broken) or a ``problem`` (telemetry
will not arrive as configured); every problem names its fix.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from otelkit.cli import _catalog, _probes
from otelkit.config._redact import redact_text, redact_url
from otelkit.config._settings import INTEGRATIONS, SIGNALS, did_you_mean

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from otelkit.alerting._rules import AlertRule
    from otelkit.config._settings import Settings
    from otelkit.exporters._plugin import ExporterPlugin

__all__ = [
    "OK",
    "PROBLEM",
    "WARNING",
    "Finding",
    "check_alert_rules",
    "check_exporters",
    "check_packages",
    "check_rule_metrics",
]

OK, WARNING, PROBLEM = "ok", "warning", "problem"
PROBE_TIMEOUT_S = 5.0
OTLP_EXTRA = "pip install 'otelkit[otlp]'"
# Integration → (the module that must be importable, the extra that installs it).
_LIBRARIES = {
    "sqlalchemy": ("sqlalchemy", "sqlalchemy"),
    "celery": ("celery", "celery"),
    "system": ("psutil", "system"),
}
_EXPORTER_MODULES = {
    "grpc": "opentelemetry.exporter.otlp.proto.grpc",
    "http/protobuf": "opentelemetry.exporter.otlp.proto.http",
}


@dataclass(frozen=True)
class Finding:
    check: str
    status: str
    detail: str
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "status": self.status, "detail": self.detail, "fix": self.fix}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def check_exporters(plugins: Mapping[str, ExporterPlugin], settings: Settings) -> list[Finding]:
    findings: list[Finding] = []
    for name, plugin in plugins.items():
        if name == "otlp":
            findings.extend(_check_otlp(plugin, settings))
        elif name == "prometheus":
            findings.append(_check_prometheus(plugin))
        else:
            signals = ", ".join(s for s in SIGNALS if name in settings.exporters_for(s))
            findings.append(Finding(f"exporter {name}", OK, f"exports {signals}; nothing to reach"))
    for signal in SIGNALS:
        if not settings.exporters_for(signal):
            findings.append(
                Finding(
                    f"{signal}",
                    OK,
                    f"{signal} off (set OTEL_{signal.upper()}_EXPORTER to export them)",
                )
            )
    return findings


def _check_otlp(plugin: Any, settings: Settings) -> list[Finding]:
    findings: list[Finding] = []
    seen: dict[tuple[str, str], str] = {}
    for signal in SIGNALS:
        if "otlp" not in settings.exporters_for(signal):
            continue
        config = plugin.resolve(signal)
        shown = redact_url(config.endpoint)
        check = f"otlp {signal}"
        module = _EXPORTER_MODULES[config.protocol]
        if not _installed(module):
            findings.append(
                Finding(
                    check,
                    PROBLEM,
                    f"the {config.protocol} exporter package is not installed ({module})",
                    OTLP_EXTRA,
                )
            )
            continue
        key = (config.protocol, config.endpoint)
        if key in seen:
            findings.append(Finding(check, OK, f"{shown} ({config.protocol}): {seen[key]}"))
            continue
        timeout = min(config.timeout_s, PROBE_TIMEOUT_S)
        if config.protocol == "grpc":
            probe = _probes.probe_grpc(
                config.endpoint,
                signal,
                config.plain_headers,
                timeout,
                config.insecure,
                config.certificate,
            )
        else:
            probe = _probes.probe_http(
                config.endpoint,
                config.plain_headers,
                timeout,
                config.certificate,
                config.client_key,
                config.client_certificate,
            )
        seen[key] = probe.detail
        detail = f"{shown} ({config.protocol}): {probe.detail}"
        if plugin.options["endpoint"] is None and plugin.options[f"{signal}_endpoint"] is None:
            detail += " (the default endpoint: OTEL_EXPORTER_OTLP_ENDPOINT is not set)"
        if probe.passed:
            findings.append(Finding(check, OK, detail))
        else:
            findings.append(Finding(check, PROBLEM, detail, _otlp_fix(signal, probe.kind)))
    return findings


def _otlp_fix(signal: str, kind: str) -> str:
    endpoint = f"OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT)"
    if kind == "auth":
        return "check the credentials in OTEL_EXPORTER_OTLP_HEADERS"
    if kind == "path":
        return (
            f"point {endpoint} at the collector's OTLP receiver; for http/protobuf otelkit "
            "appends /v1/<signal> to OTEL_EXPORTER_OTLP_ENDPOINT"
        )
    if kind == "protocol":
        return (
            "set OTEL_EXPORTER_OTLP_PROTOCOL to what the receiver speaks "
            "(4317 is usually grpc, 4318 http/protobuf)"
        )
    if kind == "tls":
        return "check OTEL_EXPORTER_OTLP_CERTIFICATE, or use http:// for a plaintext receiver"
    return f"start the collector, or set {endpoint} to where it listens"


def _check_prometheus(plugin: Any) -> Finding:
    host, port = plugin.options["host"], plugin.options["port"]
    if not port:
        return Finding("prometheus port", OK, "listener off (port 0): serve metrics_app() yourself")
    probe = _probes.probe_port(host, port)
    where = f"{host}:{port}"
    if probe.passed:
        return Finding("prometheus port", OK, f"{where} is free; /metrics will be served there")
    fix = (
        f"stop that process, or set {plugin.source('port')} to a free port "
        "(0 turns the listener off: mount metrics_app() in the application)"
    )
    if probe.kind == "host":
        fix = f"set {plugin.source('host')} to an address of this machine (127.0.0.1, 0.0.0.0)"
    elif plugin._port_movable:  # development, default port: the process serves on the next one
        detail = f"{where} is {probe.detail}; the application will serve on the next free port"
        fix = f"set {plugin.source('port')} to give it a port of its own"
        return Finding("prometheus port", WARNING, redact_text(detail), fix)
    return Finding("prometheus port", PROBLEM, redact_text(f"{where} is {probe.detail}"), fix)


def check_packages(settings: Settings) -> list[Finding]:
    """What ``auto`` would instrument: each library, installed or not (and the extra to add)."""
    findings: list[Finding] = []
    auto = settings.instrument == ("auto",)
    for integration in INTEGRATIONS:
        if not (auto or integration in settings.instrument):
            continue
        check = f"instrument {integration}"
        if integration not in _LIBRARIES:
            findings.append(Finding(check, OK, "built in"))
            continue
        module, extra = _LIBRARIES[integration]
        if integration == "system" and not settings.system_metrics:
            findings.append(Finding(check, OK, "off (OTELKIT_SYSTEM_METRICS=off)"))
        elif _installed(module):
            findings.append(Finding(check, OK, f"{module} is installed"))
        elif integration == "system":
            findings.append(
                Finding(
                    check,
                    WARNING,
                    "psutil is not installed: no system and process metrics",
                    f"pip install 'otelkit[{extra}]' (or OTELKIT_SYSTEM_METRICS=off)",
                )
            )
        else:
            findings.append(
                Finding(
                    check,
                    OK,
                    f"{module} is not installed: nothing to instrument "
                    f"(pip install 'otelkit[{extra}]' if the application uses it)",
                )
            )
    if settings.http_implementation == "contrib":
        ok = _installed("opentelemetry.instrumentation.asgi")
        findings.append(
            Finding(
                "http middleware",
                OK if ok else PROBLEM,
                "contrib middlewares " + ("installed" if ok else "not installed"),
                None if ok else "pip install 'otelkit[contrib]'",
            )
        )
    return findings


def check_alert_rules(settings: Settings) -> list[Finding]:
    """Build the alert engine as init would (rules file, channels: may raise ConfigError) and
    check that each rule names a metric something emits."""
    if not settings.alerts:
        return [Finding("alerting", OK, "off (no OTELKIT_ALERT_RULES_FILE, webhook or SMTP)")]
    from otelkit.alerting._engine import AlertEngine

    engine = AlertEngine(settings)
    try:
        rules, channels = engine.rules, sorted(engine.channels)
    finally:
        engine.stop(timeout=0)
    findings = [
        Finding("alerting", OK, f"{len(rules)} rules; channels: {', '.join(channels)}"),
    ]
    system_emitted = (
        settings.system_metrics
        and (settings.instrument == ("auto",) or "system" in settings.instrument)
        and _installed("psutil")
    )
    if not system_emitted:
        for rule in rules:
            if rule.metric.startswith(("system.", "process.")):
                findings.append(
                    Finding(
                        f"alert rule {rule.name}",
                        PROBLEM,
                        f"reads {rule.metric}, which this configuration does not emit "
                        "(system metrics are off or psutil is missing): it can never fire",
                        "pip install 'otelkit[system]' and keep OTELKIT_SYSTEM_METRICS on, or "
                        "leave the rule out of OTELKIT_ALERT_DEFAULT_RULES",
                    )
                )
    return findings + check_rule_metrics(rules, settings.alert_rules_file or "the rule")


def check_rule_metrics(rules: Sequence[AlertRule], location: str) -> list[Finding]:
    """Each rule must name a metric something emits: one in otelkit's catalog (a Prometheus
    name or a near miss is a problem; an unknown name may be the application's own)."""
    known = _catalog.known_metrics()
    if known is None:
        return [Finding("alert rules", WARNING, "the metric catalog is not available: not checked")]
    findings: list[Finding] = []
    by_prometheus = {prom: name for name, prom in known.items()}
    for rule in rules:
        check = f"alert rule {rule.name}"
        if rule.metric in known:
            continue
        otel = by_prometheus.get(rule.metric) or by_prometheus.get(
            rule.metric.removesuffix("_total")
        )
        hint = did_you_mean(rule.metric, list(known))
        if otel:
            detail = (
                f"metric {rule.metric!r} is a Prometheus name; in-process rules read "
                "OpenTelemetry names"
            )
            findings.append(Finding(check, PROBLEM, detail, f"write metric: {otel}"))
        elif hint:
            detail = f"metric {rule.metric!r} is not emitted by otelkit{hint}"
            findings.append(Finding(check, PROBLEM, detail, f"fix the metric name in {location}"))
        else:
            detail = (
                f"metric {rule.metric!r} is not one otelkit emits: the rule never fires "
                "unless the application records it"
            )
            findings.append(Finding(check, WARNING, detail))
    return findings
