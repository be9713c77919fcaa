"""`nox -s bench` / `python -m bench [--quick] [names...]`: run, print ratios, save JSON."""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys

from bench._harness import report

BENCHMARKS = (
    "scrape",
    "prefork",
    "business",
    "histograms",
    "exemplars",
    "system",
    "alerting",
    "http_asgi",
    "http_wsgi",
    "http_django",
    "celery_tasks",
    "http_client",
    "http_load",
    "span_export",
    "db",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", choices=[[], *BENCHMARKS], default=[])
    parser.add_argument("--quick", action="store_true", help="few rounds, for a smoke run")
    parser.add_argument(
        "--duration",
        type=float,
        help="seconds of load per variant in http_load (default 10, or 3 with --quick)",
    )
    args = parser.parse_args()
    duration = args.duration or (3.0 if args.quick else 10.0)
    results = []
    for name in args.names or BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        options = (
            {"duration": duration} if "duration" in inspect.signature(module.run).parameters else {}
        )
        results.extend(module.run(rounds=3 if args.quick else 15, **options))
    report(results, "latest")
    if not all(result.ok for result in results):
        sys.exit("a sanity check failed (see PROBLEM above): those figures are not comparable")


if __name__ == "__main__":
    main()
