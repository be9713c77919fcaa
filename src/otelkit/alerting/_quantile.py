"""Quantiles from explicit-bucket histograms, as Prometheus' ``histogram_quantile`` computes them.

The rank ``q * count`` is found in the cumulative bucket counts; within that bucket the value
is interpolated linearly between its lower and upper boundary, assuming the observations are
spread evenly inside it. The first bucket's lower boundary is 0 (unless its upper boundary is
not positive, then that boundary is the answer). A rank in the overflow bucket (above the last
boundary) answers the last boundary: nothing better is known.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["histogram_quantile"]


def histogram_quantile(q: float, bounds: Sequence[float], counts: Sequence[float]) -> float | None:
    """The ``q``-quantile (0 < q < 1) of per-bucket ``counts`` (``len(bounds) + 1`` of them).

    None when there are no observations or no finite boundary.
    """
    total = sum(counts)
    if total <= 0 or not bounds:
        return None
    rank = q * total
    below = 0.0
    for index, upper in enumerate(bounds):
        in_bucket = counts[index]
        if below + in_bucket >= rank and in_bucket > 0:
            if index == 0:
                if upper <= 0:
                    return upper
                lower = 0.0
            else:
                lower = bounds[index - 1]
            return lower + (upper - lower) * (rank - below) / in_bucket
        below += in_bucket
    return bounds[-1]
