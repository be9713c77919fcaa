"""Record cost of an exponential histogram series against an explicit-bucket one.

Both variants record the same values (log-normal latencies) into one fast-path series;
``explicit`` keeps the explicit buckets only, ``exponential`` the explicit buckets and the
base-2 exponential ones (what ``OTELKIT_HISTOGRAM_AGGREGATION=base2_exponential_bucket_histogram``
makes every histogram series keep). The figure is µs per ``record()``; the ratio is the
exponential series' cost over the explicit one's.

The memory tables answer "memory per series, native vs classic": what one series holds after
``SPARSE_VALUES`` and after ``SERIES_VALUES`` values (tracemalloc, averaged over ``SERIES``
series of one instrument, the instrument's bookkeeping included), in KiB. The fast-path series
is where otelkit keeps a histogram's state: the Prometheus reader holds nothing between scrapes
(each scrape collects and renders afresh, cumulative), so a whole-reader figure would add only
the renderer's transient memory (the scrape benchmark reports the body sizes). Exponential
buckets adapt their scale to the values' range, so a series reaches about ``MAX_SIZE`` (160)
buckets after a few values of spread-out latencies: the sparse figure is near the full one.
"""

from __future__ import annotations

import math
import random
import tracemalloc

from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from bench._harness import Result, Variant, measure
from otelkit.metrics._fastpath import _series
from otelkit.metrics._fastpath._instruments import FastHistogram

CALLS = 20_000
SERIES = 200
SERIES_VALUES = 1000
SPARSE_VALUES = 10
BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
SCOPE = InstrumentationScope("bench")


def _values() -> list[float]:
    rng = random.Random(5)
    return [rng.lognormvariate(math.log(0.05), 1.0) for _ in range(CALLS)]


def _variant(name: str, exponential: bool) -> Variant:
    values = _values()
    histogram = FastHistogram("bench.histogram", "s", "", SCOPE, BOUNDS)
    series = histogram.series(("k",), {"k": "v"})

    def run() -> None:
        previous, _series.EXPONENTIAL = _series.EXPONENTIAL, exponential
        try:
            record = series.record
            for value in values:
                record(value)
        finally:
            _series.EXPONENTIAL = previous

    return Variant(name, run, per_call=CALLS)


def _memory_per_series(exponential: bool, recorded: int) -> float:
    """KiB one series holds after ``recorded`` values, averaged over ``SERIES`` series."""
    values = _values()[:recorded]
    previous, _series.EXPONENTIAL = _series.EXPONENTIAL, exponential
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        histogram = FastHistogram("bench.memory", "s", "", SCOPE, BOUNDS)
        for key in range(SERIES):
            series = histogram.series(key, {"k": str(key)})
            for value in values:
                series.record(value)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        _series.EXPONENTIAL = previous
    return held / SERIES / 1024


def _memory(recorded: int) -> Result:
    memory = Result(
        f"histogram memory per series after {recorded:,} values (KiB)", "KiB", "explicit", rounds=1
    )
    memory.medians = {
        "explicit": _memory_per_series(False, recorded),
        "exponential": _memory_per_series(True, recorded),
    }
    return memory


def run(rounds: int) -> list[Result]:
    result = measure(
        "histogram record: exponential vs explicit buckets",
        [_variant("explicit", False), _variant("exponential", True)],
        rounds=rounds,
        baseline="explicit",
        unit="us",
    )
    return [result, _memory(SPARSE_VALUES), _memory(SERIES_VALUES)]
