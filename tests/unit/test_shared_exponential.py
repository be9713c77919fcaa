"""Exponential buckets shared between processes: the window other processes read, and the sum.

A pre-fork worker mirrors each series' exponential buckets into a window of its shared file;
the process that answers a scrape reads every worker's window and adds them up. What it adds
up must be exactly what one process would hold had it recorded every worker's values.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from otelkit.metrics._fastpath._exponential import Buckets
from otelkit.metrics._fastpath._shared_exponential import (
    COUNT,
    HEAD,
    POSITIVE,
    TAIL,
    WINDOW,
    State,
    Window,
    decoded,
    encoded,
    merged,
)

VALUES = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
    st.floats(min_value=1e-300, max_value=1e300),
    st.just(0.0),
)


def window_cells() -> memoryview:
    """Cells as the shared file hands them out: a memoryview of doubles, zeroed."""
    return memoryview(bytearray(8 * WINDOW)).cast("d")


def state_of(buckets: Buckets) -> State:
    return State(
        buckets.reported_scale if buckets.count else buckets.scale,
        buckets.zero_count,
        buckets.count,
        buckets.sum,
        buckets.positive.copy(),
        buckets.negative.copy(),
    )


def same(a: State, b: State) -> bool:
    """Equal buckets, count and scale; sums equal up to the order of additions."""
    return (
        (a.count, a.zero_count) == (b.count, b.zero_count)
        and (a.count == 0 or a.scale == b.scale)
        and (a.positive.offset, a.positive.counts) == (b.positive.offset, b.positive.counts)
        and (a.negative.offset, a.negative.counts) == (b.negative.offset, b.negative.counts)
        and math.isclose(a.sum, b.sum, rel_tol=1e-9, abs_tol=1e-6)
    )


def recorded(values: list[float], mirrored: bool = False) -> tuple[Buckets, memoryview]:
    buckets, cells = Buckets(), window_cells()
    if mirrored:
        buckets.mirror = Window(cells)
    for value in values:
        buckets.record(value)
    return buckets, cells


@settings(max_examples=150, deadline=None)
@given(st.lists(VALUES, max_size=300))
def test_the_window_always_holds_what_the_buckets_hold(values: list[float]) -> None:
    buckets, cells = Buckets(), window_cells()
    buckets.mirror = Window(cells)
    for value in values:
        buckets.record(value)
        read = decoded(cells)
        assert read is not None
        assert same(read, state_of(buckets)) or buckets.count == 0


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(VALUES, max_size=120), min_size=1, max_size=5))
def test_the_sum_of_the_workers_is_what_one_process_would_hold(workers: list[list[float]]) -> None:
    """Each worker downscaled on its own; the sum is exact all the same."""
    windows = [recorded(values, mirrored=True)[1] for values in workers]
    states = [decoded(cells) for cells in windows]
    assert all(state is not None for state in states)
    total = merged(state for state in states if state is not None)
    one_process, _ = recorded([value for values in workers for value in values])
    assert same(total, state_of(one_process))


@settings(max_examples=50, deadline=None)
@given(st.lists(VALUES, min_size=1, max_size=200))
def test_an_archived_sum_reads_back_unchanged(values: list[float]) -> None:
    """Ended workers' windows are merged into an archive entry; reading it gives the same."""
    state = decoded(recorded(values, mirrored=True)[1])
    assert state is not None
    archived = decoded(encoded(merged([state])))
    assert archived is not None
    assert same(archived, state)


def test_a_window_read_during_a_write_is_refused() -> None:
    cells = recorded([1.0, 2.0, 3.0], mirrored=True)[1]
    assert decoded(cells) is not None

    cells[TAIL] = cells[HEAD] + 1  # the writer has begun: tail odd, head not yet updated
    assert decoded(cells) is None

    cells[TAIL] = cells[HEAD]
    cells[COUNT] += 1  # a count the buckets do not add up to (a read torn mid-copy)
    assert decoded(cells) is None


def test_a_series_moved_into_the_file_brings_its_buckets() -> None:
    """A worker's series recorded before the move: its window is filled at once."""
    buckets, _ = recorded([0.5, 2.0, -3.0, 0.0])
    cells = window_cells()
    buckets.mirror = Window(cells)
    buckets.mirror.rewrite(buckets)
    read = decoded(cells)
    assert read is not None
    assert same(read, state_of(buckets))
    assert cells[POSITIVE : POSITIVE + len(buckets.positive.counts)].tolist() == [
        float(c) for c in buckets.positive.counts
    ]


def test_workers_that_recorded_nothing_sum_to_nothing() -> None:
    empty = [decoded(window_cells()), decoded(window_cells())]
    assert all(state is not None for state in empty)
    total = merged(state for state in empty if state is not None)
    assert (total.count, total.zero_count, total.positive.counts, total.negative.counts) == (
        0,
        0,
        [],
        [],
    )
