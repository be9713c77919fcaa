"""Collectors that fail in the ways real ones do, on 127.0.0.1: for the fault suite.

* ``refused``: nothing listens on the port (the collector is down);
* ``black_hole``: the kernel accepts connections into the backlog and nothing ever answers (a
  firewall dropping packets, a hung collector);
* ``failing``: every export answered with HTTP 500 / gRPC ``INTERNAL``;
* ``slow``: every export answered, successfully, after ``SLOW_ANSWER_S`` (overloaded, not gone);
* ``429`` / ``503``: every other export of a signal is pushed back, HTTP 429 / 503 with
  ``Retry-After: 1`` or gRPC ``RESOURCE_EXHAUSTED`` / ``UNAVAILABLE`` with a one-second
  ``RetryInfo``; the retry is accepted.

``collector(fault, protocol)`` gives a ``Fault``: the ``http://`` endpoint to give otelkit and,
for the collectors that answer, the ``Scripted`` server's record of what it answered.
``scripted(answers, protocol)`` builds any other script (400, 401, a delay past the deadline).
The collectors' threads are named ``collector…``: the suite counts the host's threads without
them.
"""

from __future__ import annotations

import itertools
import socket
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tests.fixtures.servers import free_port
from tests.reliability._scripted import TEST_SPAN, Answer, Scripted, serve_grpc, serve_http

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = ["COLLECTORS", "FAULTS", "LOAD_FAULTS", "TEST_SPAN", "Answer", "Fault", "Scripted"]

FAULTS = ("refused", "black_hole", "failing")
"""The faults ``test_faults`` runs in-process (no answer at all, or an error)."""
LOAD_FAULTS = ("refused", "black_hole", "slow", "failing", "429", "503")
"""Every fault of the suite: each runs under steady load from a second process."""
SLOW_ANSWER_S = 10.0
RETRY_AFTER_S = 1.0

SCRIPTS: dict[str, tuple[list[Answer], float]] = {
    "failing": ([Answer(500)], 0.0),
    "slow": ([Answer(200)], SLOW_ANSWER_S),
    "429": ([Answer(429, RETRY_AFTER_S), Answer(200)], 0.0),
    "503": ([Answer(503, RETRY_AFTER_S), Answer(200)], 0.0),
}


@dataclass
class Fault:
    endpoint: str
    server: Scripted | None = field(default=None)


@contextmanager
def refused(protocol: str) -> Iterator[str]:
    yield f"http://127.0.0.1:{free_port()}"


@contextmanager
def black_hole(protocol: str) -> Iterator[str]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1024)
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()


@contextmanager
def scripted(
    answers: Sequence[Answer],
    protocol: str,
    *,
    delay: float = 0.0,
    only_test_span: bool = False,
) -> Iterator[Scripted]:
    """A collector answering each export of a signal with the next of ``answers`` (cycling),
    after ``delay`` seconds; with ``only_test_span``, only trace exports holding ``TEST_SPAN``
    follow the script (and are recorded), any other is accepted."""
    server = Scripted(list(answers), delay, only_test_span)
    serve = serve_grpc if protocol == "grpc" else serve_http
    with serve(server):
        yield server


@contextmanager
def failing(protocol: str) -> Iterator[str]:
    answers, delay = SCRIPTS["failing"]
    with scripted(answers, protocol, delay=delay) as server:
        yield server.endpoint


@contextmanager
def collector(fault: str, protocol: str) -> Iterator[Fault]:
    """The collector of ``fault`` (one of ``LOAD_FAULTS``) for ``protocol``."""
    if fault in SCRIPTS:
        answers, delay = SCRIPTS[fault]
        with scripted(answers, protocol, delay=delay) as server:
            yield Fault(server.endpoint, server)
        return
    with COLLECTORS[fault](protocol) as endpoint:
        yield Fault(endpoint)


def retried_after(server: Scripted, signal: str) -> list[float]:
    """Seconds between each pushed-back export of ``signal`` and the next export of it."""
    hits = server.hits(signal)
    return [
        later.at - earlier.at
        for earlier, later in itertools.pairwise(hits)
        if earlier.answer.retry_after is not None
    ]


COLLECTORS = {"refused": refused, "black_hole": black_hole, "failing": failing}
