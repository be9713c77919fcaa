"""Real services for the CLI to read, each started as a subprocess: a FastAPI app under uvicorn
with otelkit's /metrics listener, and a plain script with a readiness check on a flag file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import urllib.request
from typing import TYPE_CHECKING

from tests.cli.conftest import clean_environment
from tests.fixtures.servers import free_port, stop_process, wait_until

if TYPE_CHECKING:
    from pathlib import Path

SHOP = textwrap.dedent(
    """
    import otelkit
    from fastapi import FastAPI, HTTPException

    otelkit.init_telemetry(service_name="shop")
    app = FastAPI()


    @app.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, int]:
        if item_id % 4 == 0:
            raise HTTPException(status_code=500, detail="every fourth item fails")
        return {"id": item_id}
    """
)

READINESS = textwrap.dedent(
    """
    import os, sys, time
    import otelkit

    otelkit.init_telemetry(service_name="worker")
    flag = sys.argv[1]


    def database() -> None:
        if not os.path.exists(flag):
            raise ConnectionError("the database is down")


    otelkit.add_health_check("database", database)
    otelkit.add_health_check("cache", lambda: True, critical=False)
    print("started", flush=True)
    time.sleep(300)
    """
)

QUERIES = textwrap.dedent(
    """
    import sys, time
    import otelkit, sqlalchemy
    from sqlalchemy.pool import QueuePool

    otelkit.init_telemetry(service_name="reports")
    engine = sqlalchemy.create_engine(f"sqlite:///{sys.argv[1]}", poolclass=QueuePool)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS orders (id INTEGER)")
    while True:
        with engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO orders VALUES (1)")
            try:
                connection.exec_driver_sql("SELECT * FROM missing").all()
            except sqlalchemy.exc.OperationalError:
                pass
        time.sleep(0.01)
    """
)


def _answers(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return bool(response.status == 200)


class Service:
    """A subprocess serving otelkit's listener on ``metrics_port`` (and maybe an app)."""

    def __init__(self, command: list[str], cwd: Path, variables: dict[str, str]) -> None:
        self.metrics_port = free_port()
        environment = clean_environment(
            {"OTEL_EXPORTER_PROMETHEUS_PORT": str(self.metrics_port), **variables}
        )
        self.process = subprocess.Popen(
            command, cwd=cwd, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            wait_until(lambda: _answers(f"{self.listener}/healthz"), 30, "the otelkit listener")
        except AssertionError:
            self.stop()
            raise

    @property
    def listener(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}"

    def stop(self) -> None:
        stop_process(self.process)
        if self.process.stderr is not None:
            self.process.stderr.close()


class Shop(Service):
    """The FastAPI app above under uvicorn: ``/items/{item_id}``, every fourth one a 500."""

    def __init__(self, directory: Path, variables: dict[str, str] | None = None) -> None:
        (directory / "shop.py").write_text(SHOP)
        self.port = free_port()
        command = [sys.executable, "-m", "uvicorn", "shop:app", "--port", str(self.port)]
        super().__init__(command, directory, variables or {})
        wait_until(lambda: _answers(f"{self.url}/items/1"), 30, "the shop app")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class QueryLoop(Service):
    """A script querying SQLite through a SQLAlchemy pool, an insert and a failing select
    in each loop."""

    def __init__(self, directory: Path) -> None:
        (directory / "queries.py").write_text(QUERIES)
        database = directory / "orders.db"
        super().__init__([sys.executable, "queries.py", str(database)], directory, {})


class ReadinessScript(Service):
    """A script whose critical ``database`` check passes while ``flag`` exists."""

    def __init__(self, directory: Path, flag: Path, readiness_path: str = "/readyz") -> None:
        (directory / "worker.py").write_text(READINESS)
        self.readiness_path = readiness_path
        variables = {"OTELKIT_HEALTH_READINESS_PATH": readiness_path}
        super().__init__([sys.executable, "worker.py", str(flag)], directory, variables)
        wait_until(self._checks_registered, 30, "the readiness checks")

    def _checks_registered(self) -> bool:
        url = f"{self.listener}{self.readiness_path}"
        with urllib.request.urlopen(url, timeout=2) as response:
            return b'"database"' in response.read()
