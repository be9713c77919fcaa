"""The public plugin API (otelkit.exporters), the plugins built on it, and what init imports."""

from __future__ import annotations

import dataclasses
import importlib
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # the `dev` group brings tomli on Python 3.10
    import tomli as tomllib

import otelkit
from otelkit import exporters
from otelkit._version import __version__
from otelkit.config import _settings
from otelkit.exporters import ConfigError, ExporterPlugin, InvalidValue, Setting
from otelkit.runtime import _load

if TYPE_CHECKING:
    from collections.abc import Iterator

    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.resources import Resource

ROOT = Path(__file__).resolve().parents[2]
# The plugins live beside the package in the repository (the sdist has the tests, not them).
PLUGINS = sorted(p for p in (ROOT / "plugins").glob("*") if (p / "pyproject.toml").exists())


def install_plugin(directory: Path, dist: str, name: str, target: str) -> None:
    """An entry point the way an installed distribution has one: a dist-info on sys.path."""
    info = directory / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[otelkit.exporters]\n{name} = {target}\n")
    importlib.invalidate_caches()


# --- the API ------------------------------------------------------------------------------


def test_every_public_name_is_exported_and_documented() -> None:
    page = (ROOT / "docs" / "exporters.md").read_text()
    for name in exporters.__all__:
        assert getattr(exporters, name) is not None
        if name.startswith("parse_") or name in ("InvalidValue", "Secret", "Setting"):
            assert f"`{name}" in page, name


def test_setting_fields_are_keyword_only_and_those_of_the_core_declaration() -> None:
    fields = dataclasses.fields(Setting)
    assert all(f.kw_only for f in fields)
    assert Setting is _settings.Setting  # plugins declare settings exactly as otelkit does
    with pytest.raises(TypeError):
        Setting("url", "VAULT_URL", exporters.parse_url, None, "a URL", "doc")  # type: ignore[misc]
    setting = Setting(key="url", parse=exporters.parse_url, accepted="a URL", doc="Where.")
    assert (setting.env, setting.default, setting.kwarg) == (None, None, "url")


@pytest.mark.parametrize(
    ("parser", "good", "parsed", "bad"),
    [
        (exporters.parse_boolean, "on", True, "maybe"),
        (exporters.parse_integer(1, 9), "7", 7, "10"),
        (exporters.parse_port, "4318", 4318, "0"),
        (exporters.parse_host, "collector.local", "collector.local", "a b"),
        (exporters.parse_duration, "1m30s", 90.0, "soon"),
        (exporters.parse_positive_duration, "500ms", 0.5, "0"),
        (exporters.parse_ratio, "80%", 0.8, "180"),
        (exporters.parse_choice("emf", "otlp"), "OTLP", "otlp", "xray"),
        (exporters.parse_name_list, "a, B", ("a", "b"), 3),
        (exporters.parse_key_value_list, "api-key=x%20y", {"api-key": "x y"}, "novalue"),
        (exporters.parse_url, "https://h:1/p", "https://h:1/p", "ftp://h"),
        (exporters.parse_non_empty, " x ", "x", " "),
    ],
)
def test_public_parsers_return_values_or_raise_invalid_value(
    parser: Any, good: object, parsed: object, bad: object
) -> None:
    assert parser(good) == parsed
    with pytest.raises(InvalidValue) as caught:
        parser(bad)
    assert caught.value.reason


def test_a_secret_never_shows_its_value() -> None:
    secret = exporters.parse_secret("s3cret")
    assert isinstance(secret, exporters.Secret)
    assert secret.value == "s3cret"
    assert "s3cret" not in repr(secret)


# --- a parser that raises something else ------------------------------------------------

RAISED: list[BaseException] = []


def _fragile(value: object) -> str:
    if RAISED:
        raise RAISED[0]
    return str(value)


class FragilePlugin(ExporterPlugin):
    name = "fragile"
    signals = frozenset({"metrics"})
    settings = (
        Setting(
            key="shard",
            env="OTELKIT_FRAGILE_SHARD",
            parse=_fragile,
            accepted="a shard name",
            doc="A setting whose parser is buggy.",
            keyword="fragile_shard",
        ),
        Setting(
            key="key",
            env="OTELKIT_FRAGILE_KEY",
            parse=_fragile,
            accepted="a key",
            doc="A secret whose parser is buggy.",
            secret=True,
        ),
    )

    def metric_reader(self, resource: Resource) -> MetricReader:
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader

        return InMemoryMetricReader()


@pytest.fixture(scope="module")
def fragile_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("fragile")
    install_plugin(directory, "otelkit-fragile", "fragile", f"{__name__}:FragilePlugin")
    sys.path.insert(0, str(directory))
    yield "fragile"
    sys.path.remove(str(directory))
    importlib.invalidate_caches()


def test_a_parser_raising_key_error_is_a_config_error_naming_the_variable(
    fragile_plugin: str,
) -> None:
    RAISED[:] = [KeyError("shard-7")]
    try:
        with pytest.raises(ConfigError) as caught:
            _load.load_settings(
                {"metrics_exporters": fragile_plugin}, {"OTELKIT_FRAGILE_SHARD": "s7"}
            )
    finally:
        RAISED.clear()
    message = str(caught.value)
    assert message.startswith("OTELKIT_FRAGILE_SHARD='s7' is not valid: the parser failed")
    assert "KeyError" in message
    assert "Accepted: a shard name." in message


_EXCEPTIONS = st.sampled_from(
    [KeyError, ValueError, TypeError, IndexError, AttributeError, ZeroDivisionError, OSError]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    exception=_EXCEPTIONS,
    message=st.text(max_size=30),
    raw=st.text(min_size=1, max_size=30).filter(lambda s: s.strip() and "\x00" not in s),
    secret=st.booleans(),
    by_keyword=st.booleans(),
)
def test_any_exception_of_a_plugin_parser_is_a_config_error_naming_the_setting(
    fragile_plugin: str,
    exception: type[Exception],
    message: str,
    raw: str,
    secret: bool,
    by_keyword: bool,
) -> None:
    variable, keyword = (
        ("OTELKIT_FRAGILE_KEY", "key") if secret else ("OTELKIT_FRAGILE_SHARD", "fragile_shard")
    )
    keywords: dict[str, object] = {"metrics_exporters": fragile_plugin}
    environ: dict[str, str] = {}
    if by_keyword:
        keywords[keyword] = raw
    else:
        environ[variable] = raw
    RAISED[:] = [exception(message)]
    try:
        with pytest.raises(ConfigError) as caught:
            _load.load_settings(keywords, environ)
    finally:
        RAISED.clear()
    text = str(caught.value)
    source = f"init_telemetry({keyword}=...)" if by_keyword else variable
    if secret:  # neither the value nor the exception's message (which may quote it) is shown
        assert text == (
            f"{source}='***' is not valid: the parser failed ({exception.__name__}). "
            "Accepted: a key."
        )
    else:
        assert text.startswith(f"{source}={raw.strip()[:1]!r}"[: len(source) + 1])
        assert f"is not valid: the parser failed ({exception.__name__}" in text
        assert text.endswith("Accepted: a shard name.")


# --- only the exporters named are imported ------------------------------------------------

SENTINEL = """
from otelkit.exporters import ExporterPlugin, Setting, parse_text


class SentinelPlugin(ExporterPlugin):
    name = "sentinel"
    signals = frozenset({"metrics"})
    settings = (
        Setting(
            key="label",
            env="OTELKIT_SENTINEL_LABEL",
            parse=parse_text,
            accepted="any text",
            doc="A label.",
            keyword="sentinel_label",
        ),
    )
"""


@pytest.fixture
def sentinel_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    (tmp_path / "otelkit_sentinel_plugin.py").write_text(SENTINEL)
    install_plugin(
        tmp_path, "otelkit-sentinel", "sentinel", "otelkit_sentinel_plugin:SentinelPlugin"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "otelkit_sentinel_plugin"
    sys.modules.pop("otelkit_sentinel_plugin", None)


def test_an_installed_plugin_not_named_is_not_imported(
    sentinel_plugin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_RESOURCE_DETECTORS", raising=False)
    assert "sentinel" in _load._Exporters().names
    telemetry = otelkit.init_telemetry("orders", exporters="memory")
    telemetry.shutdown()
    assert sentinel_plugin not in sys.modules


def test_a_keyword_of_a_plugin_not_named_is_still_recognised(
    sentinel_plugin: str, recwarn: pytest.WarningsRecorder
) -> None:
    """The other plugins are imported only to place a keyword or variable nobody else reads."""
    loaded = _load.load_settings(
        {"metrics_exporters": "memory", "sentinel_label": "red"},
        {"OTELKIT_SENTINEL_LABEL": "blue"},
    )
    assert list(loaded.plugins) == ["memory"]
    assert not recwarn.list
    with pytest.raises(ConfigError, match=r"did you mean 'sentinel_label'\?"):
        _load.load_settings({"metrics_exporters": "memory", "sentinel_lable": "red"}, {})


# --- the plugins in plugins/ ----------------------------------------------------------------


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda p: p.name)
def test_plugins_import_only_the_public_api(plugin: Path) -> None:
    private = re.compile(r"^\s*(from|import)\s+otelkit(\.\w+)*\.(_\w+|config)\b", re.M)
    for path in plugin.rglob("*.py"):
        assert not private.findall(path.read_text()), path


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda p: p.name)
def test_plugins_pin_this_otelkit_line_and_share_its_metadata(plugin: Path) -> None:
    core = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    project = tomllib.loads((plugin / "pyproject.toml").read_text())["project"]
    (pin,) = [Requirement(r) for r in project["dependencies"] if r.startswith("otelkit")]
    assert pin.specifier.contains(__version__, prereleases=True)
    assert any(s.operator == "<" for s in pin.specifier)
    for key in ("license", "license-files", "requires-python", "classifiers", "authors"):
        assert project[key] == core[key], key
    assert set(project["urls"]) == set(core["urls"])
    assert (plugin / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()


# --- the documentation's example ---------------------------------------------------------


def _writing_a_plugin_block() -> str:
    page = (ROOT / "docs" / "exporters.md").read_text()
    section = page[page.index("## Writing a plugin") :]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.fixture
def vault_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The docs' example, installed as a distribution: its module plus an entry point."""
    (tmp_path / "otelkit_vault_doc.py").write_text(_writing_a_plugin_block())
    install_plugin(tmp_path, "otelkit-vault-doc", "vault", "otelkit_vault_doc:VaultPlugin")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("VAULT_METRICS_URL", "VAULT_METRICS_TOKEN", "OTELKIT_VAULT_TENANT"):
        monkeypatch.delenv(name, raising=False)
    yield "vault"
    sys.modules.pop("otelkit_vault_doc", None)


def test_the_writing_a_plugin_example_runs(
    vault_plugin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def error(**keywords: object) -> str:
        with pytest.raises(ConfigError) as caught:
            otelkit.init_telemetry(
                "orders",
                exporters={"metrics": vault_plugin},
                **keywords,  # type: ignore[arg-type]
            )
        return str(caught.value)

    assert error().startswith("VAULT_METRICS_URL is not set, and the 'vault' exporter needs it")
    monkeypatch.setenv("VAULT_METRICS_URL", "http://vault.example")
    monkeypatch.setenv("VAULT_METRICS_TOKEN", "t0ken")
    assert error().startswith("VAULT_METRICS_TOKEN would travel in the clear")
    monkeypatch.setenv("VAULT_METRICS_URL", "https://vault.example")
    assert error(vault_tenant="a-b").startswith(
        "init_telemetry(vault_tenant=...)='a-b' is not valid: 'a-b' is not a tenant name."
    )
    telemetry = otelkit.init_telemetry(
        "orders",
        exporters={"metrics": vault_plugin},
        vault_interval="30s",  # type: ignore[call-arg]  # a third-party plugin's keywords
        vault_tenant="shop",
    )
    options = telemetry.settings.exporter_options["vault"]
    assert (options["url"], options["tenant"], options["interval_s"]) == (
        "https://vault.example",
        "shop",
        30.0,
    )
    assert options["token"].value == "t0ken"
    assert "t0ken" not in repr(telemetry.settings)
    telemetry.shutdown()


def test_the_writing_a_plugin_example_type_checks(tmp_path: Path) -> None:
    from mypy import api as mypy_api

    script = tmp_path / "otelkit_vault_doc.py"
    script.write_text(_writing_a_plugin_block())
    out, err, status = mypy_api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(script)]
    )
    assert status == 0, out + err
