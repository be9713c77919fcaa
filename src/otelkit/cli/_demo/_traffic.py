"""Traffic for the demo: a steady mix of the shop's routes at a chosen rate.

A few threads share the rate, each on its own keep-alive connection, so the shop sees
concurrent requests the way it would behind a load balancer. Every answered request is
counted by status, which the demo's summary compares with what otelkit measured.
"""

from __future__ import annotations

import http.client
import random
import threading
import time
from collections import Counter
from urllib.parse import urlsplit

__all__ = ["Traffic"]

# (weight, method, path): reads dominate, as in a real shop.
MIX = (
    (40, "GET", "/items/{n}"),
    (20, "POST", "/checkout?tier={tier}"),
    (12, "GET", "/search?q=product+{n}"),
    (8, "GET", "/slow"),
    (12, "GET", "/flaky"),
    (5, "GET", "/items/{missing}"),
    (3, "GET", "/nope"),
)
TIERS = ("free", "free", "free", "gold", "gold", "platinum")
TIMEOUT_S = 5.0


def _request_line() -> tuple[str, str]:
    weights = [weight for weight, _, _ in MIX]
    _, method, path = random.choices(MIX, weights)[0]
    path = path.format(
        n=random.randint(1, 50), missing=random.randint(10_000, 20_000), tier=random.choice(TIERS)
    )
    return method, path


class Traffic:
    """Threads calling the shop at ``rps`` requests per second in total, until ``stop()``."""

    def __init__(self, base_url: str, rps: float, threads: int = 4) -> None:
        parts = urlsplit(base_url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._interval = threads / rps if rps > 0 else float("inf")
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.failures = 0
        self._threads = [
            threading.Thread(target=self._run, name=f"otelkit-demo-traffic-{n}", daemon=True)
            for n in range(threads)
        ]

    @property
    def answered(self) -> int:
        """Requests that got an HTTP answer (any status)."""
        with self._lock:
            return sum(self.statuses.values())

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop sending and wait for the requests in flight to be answered."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(TIMEOUT_S + 1)

    def _run(self) -> None:
        connection = http.client.HTTPConnection(self._host, self._port, timeout=TIMEOUT_S)
        next_at = time.monotonic() + random.uniform(0, self._interval)
        while not self._stopping.wait(max(0.0, next_at - time.monotonic())):
            next_at += self._interval
            method, path = _request_line()
            try:
                connection.request(method, path)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                with self._lock:
                    self.failures += 1
                connection.close()
                connection = http.client.HTTPConnection(self._host, self._port, timeout=TIMEOUT_S)
                continue
            with self._lock:
                self.statuses[response.status] += 1
            next_at = max(next_at, time.monotonic() - self._interval)  # no burst after a stall
        connection.close()
