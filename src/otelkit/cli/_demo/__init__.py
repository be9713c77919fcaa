"""``otelkit demo``: a shop service on embedded defaults, with traffic and a live view.

One command shows what otelkit gives a service: a FastAPI app with SQLite through SQLAlchemy,
a Celery worker in-process on an in-memory broker, business metrics, injected errors and a slow
route, traffic driven at it, and a terminal view of what its ``/metrics`` says (RED per route,
the database pool, tasks, system, alerts). It needs the ``demo`` extra and no external service.

- ``_shop``: the instrumented app, its database and its Celery app;
- ``_traffic``: the request mix at a chosen rate;
- ``_view``: the live figures, read from the demo's own ``/metrics``;
- ``_landing``: the URLs and next commands, on the terminal and as the shop's root page;
- ``_run``: starting, stopping and the summary.
"""

from __future__ import annotations

import importlib.util

import typer

from otelkit.cli._output import OUTPUT, Output, console, print_json

__all__ = ["register"]

EXIT_MISSING = 2
NEEDS = ("fastapi", "uvicorn", "sqlalchemy", "celery")


def _missing() -> list[str]:
    return [name for name in NEEDS if importlib.util.find_spec(name) is None]


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        duration: float | None = typer.Option(
            None, "--duration", min=1, help="Seconds to run (default: until Ctrl-C)."
        ),
        rps: float = typer.Option(20.0, "--rps", min=0.1, help="Requests per second sent."),
        port: int = typer.Option(8000, "--port", min=0, max=65535, help="The shop's port."),
        metrics_port: int | None = typer.Option(
            None,
            "--metrics-port",
            min=0,
            max=65535,
            help="The /metrics port (default: OTEL_EXPORTER_PROMETHEUS_PORT or 9464).",
        ),
        no_ui: bool = typer.Option(
            False, "--no-ui", help="No live view: print URLs, then a summary."
        ),
        output: Output = OUTPUT,
    ) -> None:
        """Run a demo shop with traffic and show its telemetry live (Ctrl-C stops)."""
        missing = _missing()
        if missing:
            console(stderr=True).print(
                f"otelkit demo needs {', '.join(missing)}: python3 -m pip install 'otelkit[demo]'"
            )
            raise typer.Exit(EXIT_MISSING)
        from otelkit.cli._demo._run import DemoOptions, run_demo

        options = DemoOptions(
            host="127.0.0.1",
            port=port,
            metrics_port=metrics_port,
            rps=rps,
            duration=duration,
            live=not no_ui and output is Output.text,
        )
        summary = run_demo(options, console(stderr=output is Output.json))
        if output is Output.json:
            print_json(summary)
            return
        out = console()
        out.print()
        out.print(
            f"sent {summary['requests_answered']} requests ({summary['statuses']}); "
            f"otelkit measured {summary['requests_measured']}; "
            f"orders {summary['orders']}; alert notifications {summary['alert_notifications']}; "
            f"telemetry flushed: {summary['flushed']}"
        )
