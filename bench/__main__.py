"""`nox -s bench` / `python -m bench [--quick] [names...]`: run, print ratios, save JSON."""

from __future__ import annotations

import argparse
import importlib

from bench._harness import report

BENCHMARKS = ("scrape",)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", choices=[[], *BENCHMARKS], default=[])
    parser.add_argument("--quick", action="store_true", help="few rounds, for a smoke run")
    args = parser.parse_args()
    results = []
    for name in args.names or BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        results.extend(module.run(rounds=3 if args.quick else 15))
    report(results, "latest")


if __name__ == "__main__":
    main()
