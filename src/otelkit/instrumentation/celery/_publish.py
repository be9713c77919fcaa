"""The publisher's side: what goes into a message's headers, and the ``send {task}`` span.

``before_task_publish``/``after_task_publish`` run in whatever process sends the task, a worker
retrying one included. Before: the publish time (``otelkit_published``) and the W3C trace
context go into the message headers; with tracing on, a ``PRODUCER`` span (otelkit's light span,
like HTTP's) covers the publish, ended after it. The span is named after the task rather than the
queue: a queue carries many tasks, and the queue is in ``messaging.destination.name``.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from opentelemetry import propagate, trace
from opentelemetry.semconv._incubating.attributes.messaging_attributes import (
    MESSAGING_DESTINATION_NAME,
    MESSAGING_MESSAGE_ID,
    MESSAGING_OPERATION_NAME,
    MESSAGING_OPERATION_TYPE,
    MessagingOperationTypeValues,
)
from opentelemetry.trace import SpanKind, StatusCode

from otelkit._errors import guarded
from otelkit.instrumentation._suppress import suppressed
from otelkit.instrumentation.celery._message import PUBLISHED_HEADER
from otelkit.instrumentation.celery._recorder import COMPONENT, CURRENT, TASK_NAME

if TYPE_CHECKING:
    from opentelemetry.trace import Span

_SEND = MessagingOperationTypeValues.SEND.value

_publishing = threading.local()  # .span: the PRODUCER span between before and after publish


@guarded(COMPONENT)
def before_publish(
    sender: object = None,
    headers: dict[str, Any] | None = None,
    routing_key: object = None,
    **_: Any,
) -> None:
    if not isinstance(headers, dict):
        return
    headers[PUBLISHED_HEADER] = time.time()
    context = None
    recorder = CURRENT.get()
    if recorder is not None and recorder.spans is not None and not suppressed():
        _end_producer_span(failed=True)  # left over: the previous publish in this thread raised
        name = str(headers.get("task") or sender)
        attributes: dict[str, Any] = {
            MESSAGING_OPERATION_NAME: _SEND,
            MESSAGING_OPERATION_TYPE: _SEND,
            TASK_NAME: name,
        }
        if isinstance(routing_key, str) and routing_key:
            attributes[MESSAGING_DESTINATION_NAME] = routing_key
        task_id = headers.get("id")
        if isinstance(task_id, str):
            attributes[MESSAGING_MESSAGE_ID] = task_id
        span = recorder.spans.start(
            f"send {name}", None, SpanKind.PRODUCER, attributes, time.time_ns()
        )
        _publishing.span = span
        context = trace.set_span_in_context(span)
    propagate.inject(headers, context=context)


@guarded(COMPONENT)
def after_publish(**_: Any) -> None:
    _end_producer_span(failed=False)


def _end_producer_span(*, failed: bool) -> None:
    span: Span | None = getattr(_publishing, "span", None)
    if span is None:
        return
    _publishing.span = None
    if failed:
        span.set_status(StatusCode.ERROR)
    span.end()


def reset() -> None:
    """A new pool process: no publish in progress in this thread."""
    _publishing.span = None
