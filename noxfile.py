"""Developer tasks: `nox -s tests`, `lint`, `typecheck`, `sdk`, `python`, `bench`, `docs`…"""

from __future__ import annotations

import glob
import os
import re
import shutil

import nox

nox.options.sessions = [
    "tests",
    "lint",
    "typecheck",
    "core",
    "http",
    "python",
    "azure_monitor",
    "cloudwatch",
]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "venv"
# A session whose Python is missing fails: `python` must not pass without running.
nox.options.error_on_missing_interpreters = True

PYPROJECT = nox.project.load_toml("pyproject.toml")
SERVER_PACKAGES = (
    "prometheus",
    "prometheus-alertmanager",
    "postgresql",
    "redis-server",
    "chromium",  # the status page's browser tests, driven by selenium through chromedriver
    "chromium-driver",
)
# The extras every integration test needs; the tools come from the `dev` dependency group.
TEST_EXTRAS = ".[all,contrib,celery,sqlalchemy]"
# The OpenTelemetry distributions released together with the SDK (one version number).
SDK_DISTRIBUTIONS = (
    "opentelemetry-api",
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-grpc",
    "opentelemetry-exporter-otlp-proto-http",
    "opentelemetry-exporter-otlp-proto-common",
    "opentelemetry-proto",
)
# What an SDK or Python version can break: everything but the framework-heavy end-to-end runs.
COMPAT_TESTS = ("tests/unit", "tests/tracing", "tests/http", "tests/health", "tests/integration")


def _servers_missing() -> list[str]:
    binaries = ("prometheus", "promtool", "amtool", "redis-server", "chromium", "chromedriver")
    missing = [b for b in binaries if shutil.which(b) is None]
    if not glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"):
        missing.append("pg_ctl")
    return missing


def _install_servers(session: nox.Session) -> None:
    missing = _servers_missing()
    if missing:
        session.log(f"installing the test servers ({', '.join(missing)} missing)")
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        session.run(*sudo, "apt-get", "update", "-qq", external=True, env=env)
        session.run(
            *sudo, "apt-get", "install", "-y", "-qq", *SERVER_PACKAGES, external=True, env=env
        )


def _install_dev(session: nox.Session, *more: str) -> None:
    session.install(*nox.project.dependency_groups(PYPROJECT, "dev"), "-e", TEST_EXTRAS, *more)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite against real servers (installs the Debian packages when missing)."""
    _install_servers(session)
    _install_dev(session)
    session.run("pytest", "--durations=25", *session.posargs)  # the slowest, to keep CI short


@nox.session
@nox.parametrize("fastapi", ["<0.142", ">=0.142"])
def http(session: nox.Session, fastapi: str) -> None:
    """The HTTP tests against a FastAPI without native telemetry and one with it."""
    _install_dev(session, f"fastapi{fastapi}")
    session.run("pytest", "-p", "no:cacheprovider", "tests/http", *session.posargs)


def _sdk_floor() -> dict[str, str]:
    """The lowest version pyproject.toml admits for each OpenTelemetry distribution it names."""
    project = PYPROJECT["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs.extend(extra)
    floors: dict[str, str] = {}
    for spec in specs:
        match = re.match(r"^(opentelemetry-[\w-]+)\s*>=\s*([\w.]+)", spec)
        if match:
            floors[match.group(1)] = match.group(2)
    return floors


def _install_sdk(session: nox.Session, which: str) -> None:
    """The lowest OpenTelemetry SDK pyproject.toml admits, or the newest published one (past
    the upper bound too: raising the bound is a change that runs this)."""
    if which == "lowest":
        floors = _sdk_floor()
        sdk_floor = floors["opentelemetry-sdk"]
        pins = [f"{name}=={version}" for name, version in floors.items()]
        pins += [f"{name}=={sdk_floor}" for name in SDK_DISTRIBUTIONS if name not in floors]
        session.install(*pins)
    else:
        session.install("--upgrade", *SDK_DISTRIBUTIONS, "opentelemetry-semantic-conventions")
    session.install("--no-deps", "-e", ".")
    session.run(
        "python",
        "-c",
        "import sys; from importlib.metadata import version as v; "
        "print('Python', sys.version.split()[0], '/ opentelemetry-sdk', v('opentelemetry-sdk'), "
        "'/ semantic-conventions', v('opentelemetry-semantic-conventions'))",
    )


@nox.session
@nox.parametrize("sdk", ["lowest", "newest"])
def sdk(session: nox.Session, sdk: str) -> None:
    """The SDK-sensitive part of the suite against the lowest and the newest SDK."""
    _install_servers(session)
    _install_dev(session)
    _install_sdk(session, sdk)
    session.run("pytest", "-p", "no:cacheprovider", *COMPAT_TESTS, *session.posargs)


# The oldest Python with the oldest SDK, the newest Python with the newest SDK: each end of both
# ranges in two runs instead of four (CI runs these; `sdk` remains for one SDK end alone).
PYTHON_SDK = {"3.10": "lowest", "3.13": "newest"}


@nox.session(python=list(PYTHON_SDK))
def python(session: nox.Session) -> None:
    """The lowest and the newest Python otelkit supports, each with one end of the SDK range
    (3.11 runs the whole suite with the SDK the lock resolves)."""
    _install_servers(session)
    _install_dev(session)
    _install_sdk(session, PYTHON_SDK[str(session.python)])
    session.run("pytest", "-p", "no:cacheprovider", *COMPAT_TESTS, *session.posargs)


@nox.session
def core(session: nox.Session) -> None:
    """otelkit with only its core dependencies: imports, runs, and explains missing extras."""
    session.install("-e", ".", "pytest>=8", "pytest-timeout>=2.3")
    session.run(
        "pytest", "--noconftest", "-m", "core_only", "-p", "no:cacheprovider", "tests/core_only"
    )


@nox.session(name="azure_monitor")
def azure_monitor(session: nox.Session) -> None:
    """otelkit-azure-monitor: its tests against a loopback ingestion endpoint, mypy --strict."""
    session.install("-e", ".", "-e", "./plugins/azure-monitor[test]", "mypy>=1.10")
    session.run("pytest", "-p", "no:cacheprovider", "plugins/azure-monitor/tests", *session.posargs)
    session.run("mypy", "--strict", "plugins/azure-monitor/src")


@nox.session
def cloudwatch(session: nox.Session) -> None:
    """otelkit-cloudwatch: moto (CloudWatch Logs) and SigV4 receiver tests, mypy --strict."""
    session.install("-e", ".", "-e", "./plugins/cloudwatch[test]", "mypy>=1.10")
    session.run("pytest", "-p", "no:cacheprovider", "plugins/cloudwatch/tests", *session.posargs)
    session.run("mypy", "--strict", "plugins/cloudwatch/src")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and formatting), the import contracts of .importlinter, and pip-audit over
    the resolved dependencies of every extra (when its vulnerability service is reachable)."""
    session.install("ruff>=0.6", "import-linter>=2.1", "pip-audit>=2.7", "-e", ".[all]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")
    if _reachable(AUDIT_SERVICE):
        # No advisory is ignored today; an ignored one gets `--ignore-vuln ID` here with why.
        session.run("pip-audit", "--skip-editable", "--progress-spinner", "off")
    else:
        session.warn(f"pip-audit NOT run: its service ({AUDIT_SERVICE}) is unreachable")


AUDIT_SERVICE = "https://pypi.org/pypi/pip/json"


def _reachable(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@nox.session
def soak(session: nox.Session) -> None:
    """The long form of the fault suite (100,000 requests per phase and fault in-process, 90 s
    of steady load from a second process per fault): not a default session; the short form
    runs with the tests."""
    _install_dev(session)
    session.run(
        "pytest",
        "-p",
        "no:cacheprovider",
        "-s",
        "tests/reliability/test_faults.py",
        "tests/reliability/test_faults_slow.py",
        "tests/reliability/test_steady_load.py",
        "tests/reliability/test_sigterm_load.py",
        "tests/reliability/test_scrape_storm.py",
        "tests/reliability/test_lifecycle.py",
        "tests/reliability/test_prefork_kill.py",
        *session.posargs,
        env={"RELIABILITY_SOAK": "1"},
    )


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on src/."""
    _install_dev(session)
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Regenerate the generated pages, then build the site (mkdocs, strict: a warning fails)."""
    session.install("-e", ".[cli]", *nox.project.dependency_groups(PYPROJECT, "docs"))
    with open("docs/configuration.md", "w") as out:
        session.run("python", "-m", "otelkit.runtime._config_docs", stdout=out)
    with open("docs/metrics.md", "w") as out:
        session.run("python", "-m", "otelkit.ops.catalog", stdout=out)
    session.run("python", "-m", "otelkit.ops.rules")  # docs/generated/*, docs/runbooks.md
    session.run("python", "-m", "otelkit.ops.dashboard")  # docs/generated/dashboard.json
    quiet = {"NO_MKDOCS_2_WARNING": "1"}  # mkdocs-material's notice about its successor
    session.run("mkdocs", "build", "--strict", "--site-dir", "site", env=quiet)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against the peers, in one process run; writes bench/results/*.json.

    http_load needs the Debian ``wrk``, installed here when missing.
    """
    if shutil.which("wrk") is None:
        session.log("installing wrk (the load generator of the http_load benchmark)")
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        session.run(*sudo, "apt-get", "update", "-qq", external=True, env=env)
        session.run(*sudo, "apt-get", "install", "-y", "-qq", "wrk", external=True, env=env)
    _install_dev(session, *nox.project.dependency_groups(PYPROJECT, "bench"))
    # 0.66b2 is not published and 0.66b1 pins older instrumentation packages: take it alone.
    session.install("--no-deps", "opentelemetry-instrumentation-sqlalchemy==0.66b1")
    session.run("python", "-m", "bench", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The demo shop on embedded defaults, with traffic and a live view: Ctrl-C stops it."""
    session.install("-e", ".[demo]")
    session.run("otelkit", "demo", *session.posargs)
