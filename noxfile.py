"""Developer tasks: `nox -s tests`, `lint`, `typecheck`, `bench`, `demo`, `docs`."""

from __future__ import annotations

import glob
import os
import shutil

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "core", "http", "azure_monitor", "cloudwatch"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "venv"

SERVER_PACKAGES = ("prometheus", "postgresql", "redis-server")


def _servers_missing() -> list[str]:
    missing = [b for b in ("prometheus", "promtool", "redis-server") if shutil.which(b) is None]
    if not glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"):
        missing.append("pg_ctl")
    return missing


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite against real servers (installs the Debian packages when missing)."""
    missing = _servers_missing()
    if missing:
        session.log(f"installing the test servers ({', '.join(missing)} missing)")
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        session.run(*sudo, "apt-get", "update", "-qq", external=True, env=env)
        session.run(
            *sudo, "apt-get", "install", "-y", "-qq", *SERVER_PACKAGES, external=True, env=env
        )
    session.install("-e", ".[dev]")
    session.run("pytest", *session.posargs)


@nox.session
@nox.parametrize("fastapi", ["<0.142", ">=0.142"])
def http(session: nox.Session, fastapi: str) -> None:
    """The HTTP tests against a FastAPI without native telemetry and one with it."""
    session.install("-e", ".[dev]", f"fastapi{fastapi}")
    session.run("pytest", "-p", "no:cacheprovider", "tests/http", *session.posargs)


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
    """ruff: lint and formatting."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on src/."""
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Regenerate docs/configuration.md from the settings declarations."""
    session.install("-e", ".")
    with open("docs/configuration.md", "w") as out:
        session.run("python", "-m", "otelkit.runtime._config_docs", stdout=out)


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
    session.install("-e", ".[dev,bench]")
    # 0.66b2 is not published and 0.66b1 pins older instrumentation packages: take it alone.
    session.install("--no-deps", "opentelemetry-instrumentation-sqlalchemy==0.66b1")
    session.run("python", "-m", "bench", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The demo service on embedded defaults: open the printed /metrics URL."""
    session.install("-e", ".[system]")
    session.run("python", "examples/demo/app.py", *session.posargs)
