"""The batch queues that count their drops share one at-fork hook.

``os.register_at_fork`` hooks can never be removed: one per queue would pile up with every
configuration a long-lived process builds (and keep a closure each). One hook, registered at
import, renews the lock of every queue still alive.
"""

from __future__ import annotations

import gc
import os
import warnings
import weakref
from typing import Any

import pytest

from otelkit import _sdk_export
from otelkit._sdk_export import CountingQueue


def test_fifty_queues_register_no_fork_hook_and_are_not_kept_alive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registered: list[Any] = []
    monkeypatch.setattr(os, "register_at_fork", lambda **hooks: registered.append(hooks))

    queues = [CountingQueue([], 128, lambda: None) for _ in range(50)]
    assert registered == []
    assert all(_sdk_export._QUEUES.get(id(q)) is q for q in queues)  # the one hook sees them

    refs = [weakref.ref(q) for q in queues]
    del queues
    gc.collect()
    assert [r for r in refs if r() is not None] == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_queue_lock_held_at_the_fork_is_free_in_the_child() -> None:
    queue = CountingQueue([], 128, lambda: None)
    queue._lock.acquire()  # another thread of the parent, mid-append, at the moment of the fork
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, 3.12+
            pid = os.fork()
        if pid == 0:
            os._exit(0 if queue._lock.acquire(timeout=2) else 1)
        _, status = os.waitpid(pid, 0)
    finally:
        queue._lock.release()

    assert os.waitstatus_to_exitcode(status) == 0
