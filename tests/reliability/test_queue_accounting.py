"""The batch queue counts every item it drops exactly once, however threads interleave.

A batch processor's queue is filled by the application's threads and emptied by the
processor's worker. Counting drops with a length check next to the append is racy both ways:
a check that saw room while other threads filled the queue misses a drop, one that saw it full
while the worker made room counts a drop that never happened. ``CountingQueue`` removes the
items beyond its limit itself, each counted where it is removed. These tests hammer one queue
from several threads while a worker empties it, with the interpreter switching threads as
often as it can, and check ``appended == taken by the worker + counted as dropped + left``.
"""

from __future__ import annotations

import itertools
import sys
import threading
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otelkit._sdk_export import CountingQueue

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def _switch_often() -> Iterator[None]:
    """Switch threads every microsecond: the interleavings a loaded machine produces rarely."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def _hammer(limit: int, batch: int, threads: int, per_thread: int) -> tuple[int, int, int]:
    """``threads`` appenders and one worker popping up to ``batch`` at a time, as the SDK's
    does; returns (taken by the worker, counted as dropped, left in the queue)."""
    drops = itertools.count()
    queue = CountingQueue([], limit, lambda: next(drops))
    taken = 0
    done = threading.Event()

    def worker() -> None:
        nonlocal taken
        while not done.is_set():
            for _ in range(min(batch, len(queue))):  # the SDK's batch: a length, then pops
                queue.pop()
                taken += 1

    def append() -> None:
        for n in range(per_thread):
            queue.appendleft(n)

    popper = threading.Thread(target=worker)
    popper.start()
    appenders = [threading.Thread(target=append) for _ in range(threads)]
    for appender in appenders:
        appender.start()
    for appender in appenders:
        appender.join()
    done.set()
    popper.join()
    return taken, next(drops), len(queue)


@pytest.mark.usefixtures("_switch_often")
@pytest.mark.parametrize("limit", [64, 256, 2048])
def test_every_item_is_taken_dropped_or_left_exactly_once(limit: int) -> None:
    threads, per_thread = 4, 10_000
    taken, dropped, left = _hammer(limit, batch=64, threads=threads, per_thread=per_thread)

    assert dropped > 0  # the appenders outran the worker: the race was there to lose
    assert taken + dropped + left == threads * per_thread
    assert left <= limit


@settings(max_examples=15, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=300),
    threads=st.integers(min_value=1, max_value=4),
    per_thread=st.integers(min_value=0, max_value=2000),
)
def test_the_count_is_exact_for_any_queue_size_and_thread_count(
    limit: int, threads: int, per_thread: int
) -> None:
    taken, dropped, left = _hammer(limit, min(limit, 32), threads, per_thread)

    assert taken + dropped + left == threads * per_thread


def test_the_oldest_items_are_dropped_first() -> None:
    """As the SDK's bounded deque does: the newest items are kept."""
    dropped: list[int] = []
    queue = CountingQueue([], 3, lambda: dropped.append(1))
    for item in range(5):
        queue.appendleft(item)

    assert list(queue) == [4, 3, 2]
    assert len(dropped) == 2
    assert [queue.pop() for _ in range(3)] == [2, 3, 4]  # the worker takes the oldest first


def test_take_all_empties_the_queue_and_says_how_many_it_held() -> None:
    queue = CountingQueue([], 10, lambda: None)
    for item in range(4):
        queue.appendleft(item)

    assert queue.take_all() == 4
    assert not queue
