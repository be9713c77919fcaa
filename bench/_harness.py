"""A small harness: interleaved rounds, medians, ratios, JSON results.

Variants of one benchmark run in turn within each round (A B C, A B C, …) so that a slow moment
of the machine hits all of them alike; the reported figure is the median over rounds.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

RESULTS = Path(__file__).parent / "results"


@dataclass
class Variant:
    name: str
    run: Callable[[], object]
    """One measured operation (or batch); returns anything."""
    per_call: int = 1
    """How many operations one ``run()`` performs, to report the time per operation."""


@dataclass
class Result:
    benchmark: str
    unit: str
    baseline: str
    medians: dict[str, float] = field(default_factory=dict)
    rounds: int = 0

    def ratio(self, name: str) -> float:
        return self.medians[name] / self.medians[self.baseline]


def measure(
    benchmark: str,
    variants: list[Variant],
    *,
    rounds: int,
    baseline: str,
    unit: str = "ms",
    warmup: int = 1,
) -> Result:
    scale = {"s": 1.0, "ms": 1e3, "us": 1e6}[unit]
    samples: dict[str, list[float]] = {v.name: [] for v in variants}
    for index in range(warmup + rounds):
        for variant in variants:
            started = time.perf_counter()
            variant.run()
            elapsed = (time.perf_counter() - started) / variant.per_call
            if index >= warmup:
                samples[variant.name].append(elapsed * scale)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return Result(benchmark, unit, baseline, medians, rounds)


def report(results: list[Result], name: str) -> Path:
    """Print one table per benchmark and write them all to bench/results/<name>.json."""
    for result in results:
        print(f"\n{result.benchmark} (median of {result.rounds} rounds)")
        width = max(len(n) for n in result.medians)
        for variant, value in result.medians.items():
            print(
                f"  {variant:<{width}}  {value:10.3f} {result.unit}"
                f"   {result.ratio(variant):.2f}x {result.baseline}"
            )
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "results": [
            {
                "benchmark": r.benchmark,
                "unit": r.unit,
                "baseline": r.baseline,
                "rounds": r.rounds,
                "medians": r.medians,
                "ratios_to_baseline": {n: r.ratio(n) for n in r.medians},
            }
            for r in results
        ],
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwritten: {path}")
    return path
