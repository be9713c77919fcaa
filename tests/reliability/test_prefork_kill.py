"""A pre-fork worker killed with SIGKILL takes none of its counts with it.

gunicorn with four sync workers (the pre-fork server and app of tests/e2e/test_prefork.py):
N requests spread over the workers, then one worker that served some of them gets SIGKILL (no
handler runs, nothing is flushed) and gunicorn boots a replacement; M more requests. Any
worker's ``/metrics`` must still count exactly N + M requests: what a worker recorded is in
the shared state as soon as it is recorded, not when the worker exits.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from typing import TYPE_CHECKING

import pytest

from tests.e2e.test_prefork import DURATION, ROUTE, WORKERS, PreforkServer, get_pids, scrape
from tests.fixtures.servers import wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.integration

BEFORE, AFTER = 120, 80
KILLS = 3 if os.environ.get("RELIABILITY_SOAK") == "1" else 1


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[PreforkServer]:
    running = PreforkServer("gunicorn-sync", tmp_path)
    try:
        yield running
    finally:
        running.stop()


def test_sigkilled_workers_keep_the_totals_exact(gunicorn: PreforkServer) -> None:
    sent = 0
    killed = []
    for _ in range(KILLS):
        served = Counter(get_pids(gunicorn, BEFORE))
        sent += BEFORE
        victim, its_share = served.most_common(1)[0]  # the worker with the most to lose
        booted = len(gunicorn.started_workers())
        os.kill(victim, signal.SIGKILL)
        killed.append((victim, its_share))

        def replaced(booted: int = booted) -> bool:
            return len(gunicorn.started_workers()) > booted

        wait_until(replaced, timeout=30, what="gunicorn to boot a replacement worker")
    get_pids(gunicorn, AFTER)
    sent += AFTER

    totals = [scrape(gunicorn).total(f"{DURATION}_count", http_route=ROUTE) for _ in range(8)]
    print(f"\nSIGKILL pre-fork: sent {sent}, killed (pid, requests served) {killed}, {totals}")
    assert len(gunicorn.started_workers()) == WORKERS + KILLS
    assert totals == [sent] * len(totals), (killed, totals)
