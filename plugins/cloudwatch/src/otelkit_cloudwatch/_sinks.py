"""Where EMF records go: CloudWatch Logs (PutLogEvents through botocore) or stdout."""

from __future__ import annotations

import functools
import logging
import os
import random
import re
import socket
import sys
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

logger = logging.getLogger("otelkit.cloudwatch")

# PutLogEvents limits (CloudWatch Logs quotas).
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26  # bytes counted per event on top of its UTF-8 message
MAX_EVENT_BYTES = 262_144 - EVENT_OVERHEAD
MAX_BATCH_SPAN_MS = 24 * 3600 * 1000
RETRYABLE = frozenset(
    {"ThrottlingException", "ServiceUnavailableException", "InternalFailure", "InternalError"}
)

Event = tuple[int, str]  # (timestamp in ms, message)


def log_stream_name(service: str) -> str:
    """One stream per process: ``<service>/<host>/<pid>/<random>`` (no ':' or '*')."""
    raw = f"{service}/{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
    return re.sub(r"[:*]", "_", raw)[:512]


def batches(events: Sequence[Event]) -> Iterator[list[dict[str, Any]]]:
    """Events sorted by time, cut so each batch fits one PutLogEvents call.

    A batch holds at most 10,000 events, at most 1 MiB (message bytes + 26 per event) and
    spans at most 24 hours. Callers drop events larger than ``MAX_EVENT_BYTES`` first.
    """
    batch: list[dict[str, Any]] = []
    size = 0
    first = 0
    for timestamp, message in sorted(events, key=lambda e: e[0]):
        cost = len(message.encode("utf-8")) + EVENT_OVERHEAD
        if batch and (
            len(batch) >= MAX_BATCH_EVENTS
            or size + cost > MAX_BATCH_BYTES
            or timestamp - first > MAX_BATCH_SPAN_MS
        ):
            yield batch
            batch, size = [], 0
        if not batch:
            first = timestamp
        batch.append({"timestamp": timestamp, "message": message})
        size += cost
    if batch:
        yield batch


class LogsSink:
    """Writes events to one log stream; creates the group and the stream when missing.

    PutLogEvents no longer uses sequence tokens (CloudWatch Logs ignores them), so batches need
    no ordering between calls, only within one. Throttling and transient service errors are
    retried with exponential backoff and jitter; other failures drop the batch and are logged.
    """

    def __init__(
        self,
        client: Any,
        log_group: str,
        log_stream: str,
        *,
        max_attempts: int = 6,
        base_delay_s: float = 0.2,
        max_delay_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.log_group = log_group
        self.log_stream = log_stream
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self._sleep = sleep
        self._lock = threading.Lock()
        self._ready = False
        self.calls = 0
        """PutLogEvents calls made (for tests and the closing benchmark)."""

    def __call__(self, events: Sequence[Event]) -> bool:
        with self._lock:
            fitting = [e for e in events if len(e[1].encode("utf-8")) <= MAX_EVENT_BYTES]
            ok = len(fitting) == len(events)
            if not ok:
                logger.warning(
                    "otelkit-cloudwatch: dropped %d EMF record(s) over the 256 KiB event limit",
                    len(events) - len(fitting),
                )
            try:
                self._ensure()
            except Exception as exc:
                logger.warning("otelkit-cloudwatch: cannot create the log group/stream: %s", exc)
                return False
            for batch in batches(fitting):
                ok = self._put(batch) and ok
            return ok

    def _ensure(self) -> None:
        if self._ready:
            return
        for call, kwargs in (
            (self.client.create_log_group, {"logGroupName": self.log_group}),
            (
                self.client.create_log_stream,
                {"logGroupName": self.log_group, "logStreamName": self.log_stream},
            ),
        ):
            try:
                self._with_retries(functools.partial(call, **kwargs))
            except Exception as exc:
                if _code(exc) != "ResourceAlreadyExistsException":
                    raise
        self._ready = True

    def _put(self, batch: list[dict[str, Any]]) -> bool:
        def call() -> Any:
            self.calls += 1
            return self.client.put_log_events(
                logGroupName=self.log_group, logStreamName=self.log_stream, logEvents=batch
            )

        try:
            try:
                response = self._with_retries(call)
            except Exception as exc:
                if _code(exc) != "ResourceNotFoundException":
                    raise
                self._ready = False  # the group or stream was deleted: recreate, once
                self._ensure()
                response = self._with_retries(call)
        except Exception as exc:
            logger.warning(
                "otelkit-cloudwatch: PutLogEvents failed, %d record(s) lost: %s", len(batch), exc
            )
            return False
        rejected = response.get("rejectedLogEventsInfo") if isinstance(response, dict) else None
        if rejected:
            logger.warning("otelkit-cloudwatch: CloudWatch Logs rejected records: %s", rejected)
            return False
        return True

    def _with_retries(self, call: Callable[[], Any]) -> Any:
        attempt = 0
        while True:
            try:
                return call()
            except Exception as exc:
                attempt += 1
                if _code(exc) not in RETRYABLE or attempt >= self.max_attempts:
                    raise
                delay = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
                self._sleep(delay * (0.5 + random.random() / 2))


def _code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


class StdoutSink:
    """One EMF record per line on stdout, for the Lambda runtime or a CloudWatch agent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __call__(self, events: Sequence[Event]) -> bool:
        text = "".join(message + "\n" for _, message in sorted(events, key=lambda e: e[0]))
        with self._lock:
            stream = sys.stdout
            stream.write(text)
            stream.flush()
        return True
