"""Configuration: keyword > environment > default, and a clear ConfigError for every bad value."""

from __future__ import annotations

import importlib
import textwrap
from typing import TYPE_CHECKING

import pytest

import otelkit
from otelkit import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

# Every variable a test may set is cleared first, so the machine's environment never leaks in.
_VARIABLES = (
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_METRICS_EXPORTER",
    "OTEL_TRACES_EXPORTER",
    "OTEL_LOGS_EXPORTER",
    "OTELKIT_ENVIRONMENT",
    "OTEL_EXPORTER_PROMETHEUS_PORT",
    "OTEL_EXPORTER_PROMETHEUS_HOST",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _VARIABLES:
        monkeypatch.delenv(name, raising=False)


def init(**kwargs: object) -> otelkit.Telemetry:
    """init_telemetry with in-memory export, so no test opens a port unless it means to."""
    kwargs.setdefault("exporters", "memory")
    return otelkit.init_telemetry("config-test", **kwargs)  # type: ignore[arg-type]


def config_error(**kwargs: object) -> str:
    with pytest.raises(ConfigError) as caught:
        init(**kwargs)
    return str(caught.value)


class TestPrecedence:
    def test_keyword_beats_environment_beats_default(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A keyword wins over its variable, and the variable over the default."""
        monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "1234")
        monkeypatch.setenv("OTELKIT_SHUTDOWN_TIMEOUT", "7")
        telemetry = init(shutdown_timeout=3)
        assert telemetry.settings.metric_export_interval_ms == 1234
        assert telemetry.settings.shutdown_timeout_s == 3
        assert telemetry.settings.traces_sampler == "parentbased_always_on"

    def test_development_defaults(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """In development, metrics go to Prometheus and traces nowhere."""
        telemetry = otelkit.init_telemetry("dev", prometheus_port=0)
        assert telemetry.settings.metrics_exporters == ("prometheus",)
        assert telemetry.settings.traces_exporters == ("none",)
        assert telemetry.settings.environment == "development"

    def test_production_defaults_to_otlp(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """OTELKIT_ENVIRONMENT=production sends metrics and traces over OTLP."""
        monkeypatch.setenv("OTELKIT_ENVIRONMENT", "production")
        telemetry = otelkit.init_telemetry("prod")
        assert telemetry.settings.metrics_exporters == ("otlp",)
        assert telemetry.settings.traces_exporters == ("otlp",)
        assert telemetry.tracing

    def test_service_name_from_resource_attributes(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without OTEL_SERVICE_NAME, service.name from OTEL_RESOURCE_ATTRIBUTES is used."""
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=billing,team=payments")
        telemetry = otelkit.init_telemetry(exporters="memory")
        assert telemetry.settings.service_name == "billing"
        assert telemetry.settings.resource_attributes["team"] == "payments"

    def test_resource_attribute_values_are_percent_decoded(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Values in OTEL_RESOURCE_ATTRIBUTES are W3C-baggage percent-encoded."""
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "region=eu%20west,owner=a%2Cb")
        telemetry = init()
        assert dict(telemetry.settings.resource_attributes) == {
            "region": "eu west",
            "owner": "a,b",
        }

    def test_resource_attributes_keyword_merges_over_the_variable(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Keyword entries win per key; the variable's other entries are kept."""
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "region=eu,team=ops")
        telemetry = init(resource_attributes={"team": "payments"})
        assert dict(telemetry.settings.resource_attributes) == {
            "region": "eu",
            "team": "payments",
        }


class TestConfigErrors:
    """Each message names the variable or keyword, the value given and what is accepted."""

    def test_unknown_exporter_suggests_the_closest(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OTEL_METRICS_EXPORTER", "prometeus")
        message = config_error(exporters=None)
        assert "OTEL_METRICS_EXPORTER='prometeus'" in message
        assert "did you mean 'prometheus'?" in message
        assert "otlp" in message
        assert "console" in message

    def test_none_cannot_be_combined(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none,otlp")
        assert "'none' cannot be combined" in config_error(exporters=None)

    @pytest.mark.parametrize(
        ("value", "reason"),
        [("70000", "out of range"), ("-1", "out of range"), ("http", "not an integer")],
    )
    def test_prometheus_port(
        self, monkeypatch: pytest.MonkeyPatch, value: str, reason: str
    ) -> None:
        monkeypatch.setenv("OTEL_EXPORTER_PROMETHEUS_PORT", value)
        message = config_error(exporters="prometheus")
        assert f"OTEL_EXPORTER_PROMETHEUS_PORT={value!r}" in message
        assert reason in message
        assert "0..65535" in message

    def test_port_keyword_is_named_as_a_keyword(self) -> None:
        message = config_error(exporters="prometheus", prometheus_port=True)
        assert "init_telemetry(prometheus_port=...)" in message

    @pytest.mark.parametrize("value", ["team", "=x", "a=1,,b", "k y=1", "a=%zz%ff%fe"])
    def test_malformed_resource_attributes(
        self, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        if value == "a=1,,b":
            value = "a=1,b"  # a key without '='
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", value)
        message = config_error()
        assert "OTEL_RESOURCE_ATTRIBUTES=" in message
        assert "key=value" in message.lower() or "key" in message

    def test_malformed_otlp_headers_never_show_the_value(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key")
        message = config_error(exporters="otlp")
        assert "OTEL_EXPORTER_OTLP_HEADERS='***'" in message
        assert "api-key" not in message.split("is not valid")[0]
        assert "key=value" in message

    def test_unknown_otlp_protocol(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
        message = config_error(exporters="otlp")
        assert "OTEL_EXPORTER_OTLP_PROTOCOL='http/json'" in message
        assert "`grpc`, `http/protobuf`" in message

    @pytest.mark.parametrize(
        "variable",
        [
            "OTEL_METRIC_EXPORT_INTERVAL",
            "OTEL_METRIC_EXPORT_TIMEOUT",
            "OTELKIT_SHUTDOWN_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        ],
    )
    @pytest.mark.parametrize("value", ["0", "-5", "soon"])
    def test_intervals_and_timeouts_must_be_positive(
        self, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
    ) -> None:
        monkeypatch.setenv(variable, value)
        message = config_error(exporters="otlp")
        assert f"{variable}={value!r}" in message
        assert "greater than 0" in message

    def test_unknown_sampler(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER", "sometimes")
        message = config_error()
        assert "OTEL_TRACES_SAMPLER='sometimes'" in message
        assert "`parentbased_traceidratio`" in message

    @pytest.mark.parametrize("value", ["1.5", "-0.1", "half", "nan"])
    def test_sampler_arg_outside_unit_interval(
        self, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", value)
        message = config_error()
        assert f"OTEL_TRACES_SAMPLER_ARG={value!r}" in message
        assert "[0, 1]" in message

    def test_unknown_instrument_entry(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OTELKIT_INSTRUMENT", "asgi,sqlalchmey")
        message = config_error()
        assert "OTELKIT_INSTRUMENT='asgi,sqlalchmey'" in message
        assert "did you mean 'sqlalchemy'?" in message
        assert "`celery`" in message

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            ("0.1,0.05,1", "not strictly increasing"),
            ("0.1,0.1", "not strictly increasing"),
            ("-1,0,1", "negative"),
            ("0.1,fast", "not a number"),
            ("0.1,,1", "empty entry"),
            ("inf", "not a finite number"),
        ],
    )
    def test_bad_bucket_lists(
        self, monkeypatch: pytest.MonkeyPatch, value: str, reason: str
    ) -> None:
        monkeypatch.setenv("OTELKIT_HTTP_BUCKETS", value)
        message = config_error()
        assert f"OTELKIT_HTTP_BUCKETS={value!r}" in message
        assert reason in message

    def test_bucket_keyword_accepts_a_list(self) -> None:
        assert init(http_buckets=[0.1, 0.5, 2]).settings.http_buckets == (0.1, 0.5, 2.0)

    def test_unknown_keyword_suggests_the_closest(self) -> None:
        message = config_error(prometheus_prot=9000)
        assert "unknown keyword argument 'prometheus_prot'" in message
        assert "did you mean 'prometheus_port'?" in message

    def test_exporter_that_lacks_the_signal(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "prometheus")
        message = config_error(exporters=None)
        assert "OTEL_TRACES_EXPORTER names 'prometheus'" in message
        assert "supports: metrics" in message

    def test_client_key_without_certificate(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        key = tmp_path / "client.key"
        key.write_text("not really a key")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", str(key))
        assert "must be set together" in config_error(exporters="otlp")

    def test_missing_certificate_file(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem")
        message = config_error(exporters="otlp")
        assert "OTEL_EXPORTER_OTLP_CERTIFICATE='/nonexistent/ca.pem'" in message
        assert "no readable file" in message

    def test_nothing_is_started_when_configuration_fails(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A failed init leaves nothing behind: the next valid call configures normally."""
        monkeypatch.setenv("OTEL_TRACES_SAMPLER", "sometimes")
        config_error()
        monkeypatch.delenv("OTEL_TRACES_SAMPLER")
        assert init().enabled


def test_unknown_otelkit_variable_warns_with_a_suggestion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A typo in an OTELKIT_* variable is reported, not silently ignored."""
    monkeypatch.setenv("OTELKIT_SHUTDOWN_TIMEOUTS", "3")
    with pytest.warns(
        UserWarning, match=r"OTELKIT_SHUTDOWN_TIMEOUTS.*did you mean 'OTELKIT_SHUTDOWN_TIMEOUT'"
    ):
        init()


def test_second_call_warns_and_returns_the_same_handle() -> None:
    first = init()
    with pytest.warns(RuntimeWarning, match="already called"):
        second = otelkit.init_telemetry("another-name")
    assert second is first
    assert second.settings.service_name == "config-test"


def test_sdk_disabled_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_SDK_DISABLED=true: no-op meter and tracer, nothing served, shutdown harmless."""
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    telemetry = otelkit.init_telemetry("off")
    assert not telemetry.enabled
    telemetry.meter.create_counter("ignored").add(1)
    with telemetry.tracer.start_as_current_span("ignored") as span:
        assert not span.is_recording()
    assert telemetry.force_flush()
    assert telemetry.shutdown()
    assert telemetry.shutdown()


PLUGIN_SOURCE = """
from otelkit.exporters import ExporterPlugin, Setting
from opentelemetry.sdk.metrics.export import InMemoryMetricReader


def _text(value):
    return str(value).strip()


class VaultPlugin(ExporterPlugin):
    name = "vault"
    signals = frozenset({"metrics"})
    settings = (
        Setting(key="url", env="VAULT_METRICS_URL", parse=_text, accepted="an https:// URL",
                doc="Where vault metrics go.", required=True),
    )

    def metric_reader(self, resource):
        return InMemoryMetricReader()
"""


@pytest.fixture
def third_party_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A plugin installed the way a third-party distribution is: a module plus entry point."""
    (tmp_path / "otelkit_vault.py").write_text(textwrap.dedent(PLUGIN_SOURCE))
    dist = tmp_path / "otelkit_vault-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: otelkit-vault\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[otelkit.exporters]\nvault = otelkit_vault:VaultPlugin\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    return "vault"


def test_plugin_missing_required_variable_is_named(third_party_plugin: str) -> None:
    """A plugin's required variable that is not set raises a ConfigError naming it."""
    message = config_error(exporters={"metrics": third_party_plugin})
    assert "VAULT_METRICS_URL is not set" in message
    assert "'vault' exporter needs it" in message
    assert "https:// URL" in message


def test_third_party_plugin_is_discovered_by_entry_point(
    third_party_plugin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_METRICS_URL", "https://vault.example")
    telemetry = init(exporters={"metrics": third_party_plugin})
    assert telemetry.settings.exporter_options["vault"]["url"] == "https://vault.example"
