"""A small harness: interleaved rounds, medians, ratios, JSON results.

Variants of one benchmark run in turn within each round (A B C, A B C, …) so that a slow moment
of the machine hits all of them alike; the reported figure is the median over rounds.
"""

from __future__ import annotations

import gc
import json
import platform
import statistics
import sys
import time
import tracemalloc
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
    references: tuple[str, ...] = ()
    """Variants whose overhead above the baseline each variant's overhead is divided by."""
    columns: dict[str, dict[str, float]] = field(default_factory=dict)
    """More figures per variant (column name → variant → value), e.g. from ``allocations()``."""
    notes: list[str] = field(default_factory=list)
    """Lines printed under the table (sanity checks)."""
    ok: bool = True
    """False when a sanity check failed: the figures are not to be trusted."""

    def ratio(self, name: str) -> float:
        return self.medians[name] / self.medians[self.baseline]

    def overhead(self, name: str) -> float:
        return self.medians[name] - self.medians[self.baseline]

    def overhead_ratio(self, name: str, reference: str) -> float | None:
        """``name``'s overhead over ``reference``'s; None when the reference's is not positive."""
        below = self.overhead(reference)
        return self.overhead(name) / below if below > 0 else None


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


def allocations(run: Callable[[], object], calls: int = 50) -> dict[str, float]:
    """Memory per call of ``run``, in an untimed pass under tracemalloc (medians over calls).

    ``peak_B``: the high-water mark above the level before the call (the call's transient
    working set). ``retained_B`` / ``retained_blocks``: what is still allocated after the call
    and a garbage collection (e.g. spans waiting in an export queue). Blocks come from
    ``sys.getallocatedblocks()``, which counts every object allocation. The same pass over an
    empty call is subtracted (the bookkeeping's own integers).
    """
    measured = _allocation_pass(run, calls)
    empty = _allocation_pass(lambda: None, calls)
    return {key: value - empty[key] for key, value in measured.items()}


def _allocation_pass(run: Callable[[], object], calls: int) -> dict[str, float]:
    peaks, kept, blocks = [0] * calls, [0] * calls, [0] * calls
    # Objects from before the pass are frozen, so that a collection after each call is cheap.
    gc.collect()
    gc.freeze()
    tracemalloc.start()
    try:
        for _ in range(3):
            run()
        for index in range(calls):
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            before_blocks = sys.getallocatedblocks()
            tracemalloc.reset_peak()
            run()
            peak = tracemalloc.get_traced_memory()[1]
            gc.collect()
            after_blocks = sys.getallocatedblocks()
            after = tracemalloc.get_traced_memory()[0]
            peaks[index] = peak - before
            kept[index] = after - before
            blocks[index] = after_blocks - before_blocks
    finally:
        tracemalloc.stop()
        gc.unfreeze()
    return {
        "peak_B": statistics.median(peaks),
        "retained_B": statistics.median(kept),
        "retained_blocks": statistics.median(blocks),
    }


def _print(result: Result) -> None:
    rounds = f" (median of {result.rounds} rounds)" if result.rounds else ""
    print(f"\n{result.benchmark}{rounds}")
    width = max(len(n) for n in result.medians)
    references = [r for r in result.references if r in result.medians]
    header = f"  {'':<{width}}  {result.unit:>10}  {'x' + result.baseline:>8}"
    if references:
        header += f"  {'overhead':>9}" + "".join(f"  {'÷ ' + r:>{len(r) + 2}}" for r in references)
    print(header)
    for variant, value in result.medians.items():
        line = f"  {variant:<{width}}  {value:10.2f}  {result.ratio(variant):7.2f}x"
        if references:
            line += f"  {result.overhead(variant):+9.2f}"
            for reference in references:
                ratio = result.overhead_ratio(variant, reference)
                cell = (
                    "-"
                    if variant == result.baseline
                    else ("n/a" if ratio is None else f"{ratio:.2f}x")
                )
                line += f"  {cell:>{len(reference) + 2}}"
        print(line)
    if result.columns:
        print(f"  {'per call':<{width}}" + "".join(f"  {c:>15}" for c in result.columns))
        for variant in result.medians:
            cells = (values.get(variant) for values in result.columns.values())
            print(
                f"  {variant:<{width}}"
                + "".join(f"  {'' if v is None else f'{v:,.0f}':>15}" for v in cells)
            )
    for note in result.notes:
        print(f"  {note}")


def report(results: list[Result], name: str) -> Path:
    """Print one table per benchmark and write them all to bench/results/<name>.json."""
    for result in results:
        _print(result)
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
                **(
                    {
                        "overheads": {n: r.overhead(n) for n in r.medians},
                        "overhead_ratios": {
                            ref: {n: r.overhead_ratio(n, ref) for n in r.medians}
                            for ref in r.references
                            if ref in r.medians
                        },
                    }
                    if r.references
                    else {}
                ),
                **({"columns": r.columns} if r.columns else {}),
                **({"notes": r.notes, "checks_passed": r.ok} if r.notes else {}),
            }
            for r in results
        ],
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwritten: {path}")
    return path
