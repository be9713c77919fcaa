"""``load_catalog(app=...)`` and ``otelkit metrics --app``: an application's own catalog.

Importing the application is what declares its business metrics (decorators run at import),
and what it imports tells which integrations it uses. The command-line tests run in a fresh
interpreter, as a user runs them, so that only the application's own imports count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otelkit import ConfigError
from otelkit.ops.catalog import load_catalog
from otelkit.ops.catalog._app import Switches, integrations_of
from otelkit.runtime._load import load_settings

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def app_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project directory as the current directory; sys.path restored afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    return tmp_path


def _write(directory: Path, source: str) -> str:
    """A module of a unique name holding ``source``; returns its name."""
    name = f"catalog_app_{uuid.uuid4().hex[:8]}"
    (directory / f"{name}.py").write_text(textwrap.dedent(source))
    return name


def test_business_metrics_declared_by_an_imported_app_join_its_catalog(app_dir: Path) -> None:
    """``module:attr`` is imported from the current directory, and the metrics its decorators
    declare are in the catalog, with their kind, unit and static attributes."""
    module = _write(
        app_dir,
        """
        import otelkit

        @otelkit.timed("shop.checkout.duration", attributes={"channel": "web"})
        def checkout(): ...

        @otelkit.counted("shop.orders.placed", unit="{order}")
        def place(): ...

        @otelkit.track_inprogress("shop.picking.active")
        def pick(): ...

        app = object()
        """,
    )
    catalog = load_catalog(f"{module}:app")
    business = {spec.name: spec for spec in catalog.business()}
    assert {"shop.checkout.duration", "shop.orders.placed", "shop.picking.active"} <= set(business)
    checkout = business["shop.checkout.duration"]
    assert (checkout.instrument, checkout.unit) == ("histogram", "s")
    assert checkout.attribute_names() == {"channel", "error.type"}
    assert checkout.prometheus_name == "shop_checkout_duration_seconds"
    placed = business["shop.orders.placed"]
    assert (placed.instrument, placed.prometheus_series()) == (
        "counter",
        ("shop_orders_placed_total",),
    )
    assert business["shop.picking.active"].instrument == "updowncounter"
    assert "business" in catalog.integrations()


def test_a_module_without_attribute_is_imported_too(app_dir: Path) -> None:
    module = _write(app_dir, 'import otelkit\notelkit.counted("jobs.done")(print)\n')
    assert load_catalog(module).get("jobs.done") is not None


@pytest.mark.parametrize("target", ["", ":app", "module:", ".relative", "..", "a..b"])
def test_a_malformed_target_is_a_config_error(target: str) -> None:
    with pytest.raises(ConfigError, match="--app"):
        load_catalog(target)


def test_a_missing_attribute_is_a_config_error_naming_it(app_dir: Path) -> None:
    module = _write(app_dir, "app = 1\n")
    with pytest.raises(ConfigError, match="has no 'application'"):
        load_catalog(f"{module}:application")


@given(
    st.sampled_from([".", ":", "zz_absent_", "zz_absent_:"]),
    st.text(alphabet="abcXYZ019_.:-/ ", max_size=20),
)
def test_any_target_that_names_no_module_is_a_config_error(prefix: str, rest: str) -> None:
    """Whatever the text, a target that imports nothing is a ConfigError naming ``--app``,
    never another exception."""
    with pytest.raises(ConfigError, match="--app"):
        load_catalog(prefix + rest)


def test_an_error_inside_the_application_is_its_own() -> None:
    """A module that imports something missing fails with that error, not a ConfigError."""
    with pytest.raises(ModuleNotFoundError, match="zz_missing_dependency"):
        load_catalog("tests.ops.catalog.broken_app")


@pytest.mark.parametrize(
    ("imported", "expected"),
    [
        ({"flask"}, {"http"}),
        ({"fastapi", "starlette"}, {"http"}),
        ({"django"}, {"http"}),
        ({"sqlalchemy"}, {"db"}),
        ({"celery", "sqlalchemy"}, {"celery", "db"}),
        (set(), set()),
    ],
)
def test_integrations_follow_the_libraries_the_app_imports(
    imported: set[str], expected: set[str]
) -> None:
    """health and otelkit always, system and process with psutil, the rest by the libraries
    the application imported."""
    assert integrations_of(frozenset(imported), psutil=True) == frozenset(
        {"health", "otelkit", "system", "process", *expected}
    )
    assert integrations_of(frozenset(imported), psutil=False) == frozenset(
        {"health", "otelkit", *expected}
    )


def test_a_started_configuration_narrows_them_but_explicit_instrumentation_wins() -> None:
    """With OTELKIT_INSTRUMENT=celery and system metrics off, a FastAPI + SQLAlchemy +
    Celery app keeps Celery only, unless it instrumented an engine itself."""
    keywords = {"instrument": "celery", "system_metrics": False, "exporters": "none"}
    settings = load_settings(keywords, {}).settings
    switched = Switches(settings.instrument, settings.system_metrics, settings.alerts)
    libraries = frozenset({"fastapi", "sqlalchemy", "celery"})
    assert integrations_of(libraries, psutil=True, switched=switched) == {
        "celery",
        "health",
        "otelkit",
    }
    assert integrations_of(
        libraries, psutil=True, switched=switched, explicit=frozenset({"db"})
    ) == {"celery", "db", "health", "otelkit"}


def test_alerting_comes_with_a_configuration_that_turns_it_on() -> None:
    switched = Switches(("auto",), system_metrics=True, alerts=True)
    assert integrations_of(frozenset(), psutil=False, switched=switched) == {
        "alerting",
        "health",
        "otelkit",
    }


def _metrics_command(cwd: Path, *args: str, **env: str) -> tuple[int, Any, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
    environ.update(env, PYTHONPATH=str(ROOT / "src"))
    done = subprocess.run(
        [sys.executable, "-m", "otelkit.cli", "metrics", "--output", "json", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, json.loads(done.stdout) if done.stdout else None, done.stderr


def test_the_command_lists_only_what_a_flask_app_uses(tmp_path: Path) -> None:
    """A Flask app with a business metric: HTTP, system, process, health, otelkit and its
    own metric; no database, no Celery."""
    module = _write(
        tmp_path,
        """
        import flask
        import otelkit

        app = flask.Flask(__name__)

        @otelkit.counted("shop.visits")
        def visit(): ...
        """,
    )
    code, data, stderr = _metrics_command(tmp_path, "--app", f"{module}:app")
    assert code == 0, stderr
    assert data["integrations"] == ["http", "system", "process", "health", "otelkit", "business"]
    names = {metric["name"] for metric in data["metrics"]}
    assert "shop.visits" in names
    assert "http.server.request.duration" in names
    assert not any(name.startswith(("db.", "celery.")) for name in names)


def test_the_command_follows_the_configuration_the_app_started(tmp_path: Path) -> None:
    """An app that calls init_telemetry() with only Celery instrumented and system metrics off
    keeps Celery, not HTTP although it loads FastAPI, and no system metrics."""
    module = _write(
        tmp_path,
        """
        import celery
        import fastapi
        import otelkit

        otelkit.init_telemetry("worker", exporters="none", instrument="celery",
                               system_metrics=False)
        app = fastapi.FastAPI()
        """,
    )
    code, data, stderr = _metrics_command(tmp_path, "--app", f"{module}:app")
    assert code == 0, stderr
    assert data["integrations"] == ["celery", "health", "otelkit"]


def test_what_otelkits_own_instrumentation_imports_does_not_count(tmp_path: Path) -> None:
    """``init_telemetry()`` with automatic instrumentation imports every installed framework,
    SQLAlchemy and Celery to patch them; a Flask app still uses only HTTP."""
    module = _write(
        tmp_path,
        """
        import flask
        import otelkit

        otelkit.init_telemetry("web", exporters="none")
        app = flask.Flask(__name__)
        """,
    )
    code, data, stderr = _metrics_command(tmp_path, "--app", f"{module}:app")
    assert code == 0, stderr
    assert data["integrations"] == ["http", "system", "process", "health", "otelkit"]


def test_an_engine_the_app_instruments_keeps_the_database(tmp_path: Path) -> None:
    """An engine created at import is instrumented: ``db`` stays even where the configuration
    names only ``asgi`` (which also leaves out system metrics)."""
    module = _write(
        tmp_path,
        """
        import sqlalchemy
        import otelkit

        otelkit.init_telemetry("api", exporters="none", instrument="asgi")
        engine = otelkit.instrument_sqlalchemy(sqlalchemy.create_engine("sqlite://"))
        """,
    )
    code, data, stderr = _metrics_command(tmp_path, "--app", module)
    assert code == 0, stderr
    assert data["integrations"] == ["db", "health", "otelkit"]


def test_the_environment_is_the_configuration_of_an_app_that_starts_none(
    tmp_path: Path,
) -> None:
    """An app that leaves ``init_telemetry()`` to its server: the environment says what runs
    (here: only WSGI instrumented, a webhook for alerts)."""
    module = _write(tmp_path, "import flask\napp = flask.Flask(__name__)\n")
    code, data, stderr = _metrics_command(
        tmp_path,
        "--app",
        f"{module}:app",
        OTELKIT_INSTRUMENT="wsgi",
        OTELKIT_ALERT_WEBHOOK_URL="http://127.0.0.1:9/hook",
    )
    assert code == 0, stderr
    assert data["integrations"] == ["http", "health", "alerting", "otelkit"]
    assert "otelkit.alert.notifications" in {metric["name"] for metric in data["metrics"]}


def test_the_command_reports_a_bad_app_with_status_2(tmp_path: Path) -> None:
    code, data, _ = _metrics_command(tmp_path, "--app", "zz_absent_module:app")
    assert code == 2
    assert "zz_absent_module" in data["error"]
