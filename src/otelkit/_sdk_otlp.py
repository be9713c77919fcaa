"""The private SDK attributes of the OTLP span exporters: where they encode a batch.

otelkit encodes spans to OTLP protobuf itself (``exporters._otlp_spans``, several times
cheaper than the SDK's encoder); these seams make the SDK's own exporters send that encoding,
so that everything else (retries, timeouts, compression, headers, the size limit, the
exporters' metrics and error handling) stays the SDK's. Declared with ``_sdk_compat.seam``,
probed by ``probe_all()`` and read through ``usable()`` like the others:

- ``export.otlp_span_encoding``: the serialization step of the OTLP/HTTP exporter's
  ``export()``, ``encode_spans(spans).SerializePartialToString()`` on its module's global
  ``encode_spans``. That global is replaced once by a dispatcher that hands a batch otelkit
  encodes (``_OwnEncoding``) back as it is and passes anything else to the original; serializing
  that batch runs otelkit's encoder, where the SDK's would have run;
- ``export.otlp_grpc_span_encoding``: the gRPC exporter's ``_translate_data(spans)``, which
  returns the request message: otelkit's bytes parsed back into one (a C parse, ~0.2 ms per
  512 spans), which the stub serializes again in C.

A probe checks its exporter only once the SDK's exporter module is loaded: importing the
exporters (requests, grpc) costs a process that does not use them 65 ms or more. Until then
there is nothing to check, and ``own_span_encoding`` probes again when it loads the module.
"""

from __future__ import annotations

import functools
import importlib
import sys
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otelkit._sdk_compat import probe_all, seam, usable

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    Encoder = Callable[[Sequence[ReadableSpan]], bytes]

__all__ = ["OTLP_GRPC_SPAN_ENCODING", "OTLP_SPAN_ENCODING", "own_span_encoding"]

OTLP_SPAN_ENCODING = "export.otlp_span_encoding"
OTLP_GRPC_SPAN_ENCODING = "export.otlp_grpc_span_encoding"
_MODULES = {
    OTLP_SPAN_ENCODING: "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    OTLP_GRPC_SPAN_ENCODING: "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
}
_REQUEST = "opentelemetry.proto.collector.trace.v1.trace_service_pb2"
_probed_loaded: dict[str, bool] = {}
"""Whether the last probe of each seam found its exporter module loaded."""


def own_span_encoding(encode: Encoder, kwargs: Mapping[str, Any], *, grpc: bool) -> SpanExporter:
    """The SDK's ``OTLPSpanExporter(**kwargs)`` (gRPC or HTTP), sending ``encode(batch)``
    instead of the SDK's encoding; without the seam, the SDK's exporter as it is."""
    name = OTLP_GRPC_SPAN_ENCODING if grpc else OTLP_SPAN_ENCODING
    module: Any = importlib.import_module(_MODULES[name])
    if not _probed_loaded.get(name):  # probed before the exporter was loaded: probe it now
        probe_all()
    if not usable(name):
        exporter: SpanExporter = module.OTLPSpanExporter(**kwargs)
        return exporter
    own: SpanExporter = (_grpc_class() if grpc else _http_class())(encode, **kwargs)
    return own


def _loaded(name: str) -> bool:
    _probed_loaded[name] = loaded = _MODULES[name] in sys.modules
    return loaded


class _WithEncoder:
    """What both exporters below add to the SDK's: the encoder they send the batches of."""

    def __init__(self, encode: Encoder, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.otelkit_encode = encode


# --- http/protobuf ------------------------------------------------------------------------------


class _OwnEncoding:
    """A batch on its way through the SDK's ``export()``: the dispatcher hands it back as it is,
    and serializing it runs otelkit's encoder, where the SDK's would run (inside its error
    handling, size limit and export metrics)."""

    __slots__ = ("_encode", "_spans")

    def __init__(self, spans: Sequence[ReadableSpan], encode: Encoder) -> None:
        self._spans = spans
        self._encode = encode

    def __len__(self) -> int:
        return len(self._spans)

    def SerializePartialToString(self) -> bytes:  # noqa: N802  # the protobuf message's name
        return self._encode(self._spans)

    SerializeToString = SerializePartialToString


def _dispatching(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The module's ``encode_spans``, except for a batch otelkit encodes itself."""

    def encode_spans(spans: Any) -> Any:
        return spans if type(spans) is _OwnEncoding else original(spans)

    encode_spans.otelkit_dispatch = True  # type: ignore[attr-defined]
    return encode_spans


@functools.cache
def _http_class() -> Any:
    """The SDK's OTLP/HTTP span exporter, sending otelkit's encoding of every batch."""
    module: Any = importlib.import_module(_MODULES[OTLP_SPAN_ENCODING])
    if not getattr(module.encode_spans, "otelkit_dispatch", False):
        module.encode_spans = _dispatching(module.encode_spans)
    base: type[SpanExporter] = module.OTLPSpanExporter

    class OwnEncodingSpanExporter(_WithEncoder, base):  # type: ignore[valid-type,misc]
        __module__ = base.__module__  # what tells the exporter's component type

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            result: SpanExportResult = super().export(_OwnEncoding(spans, self.otelkit_encode))
            return result

    return OwnEncodingSpanExporter


@seam(
    OTLP_SPAN_ENCODING,
    feature="otelkit's OTLP span encoding (http/protobuf)",
    fallback="spans are encoded by the SDK's OTLP encoder (the same bytes, slower)",
)
def _probe_http() -> bool:
    """An export through a session that keeps what it is asked to send: otelkit's bytes."""
    if not _loaded(OTLP_SPAN_ENCODING):
        return True
    import requests
    from opentelemetry.exporter.otlp.proto.http import Compression

    sent: list[object] = []

    class Kept(requests.Session):
        def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
            sent.append(kwargs.get("data"))
            response = requests.Response()
            response.status_code, response._content = 200, b""
            return response

    options = {"endpoint": "http://127.0.0.1:9/v1/traces", "headers": {}, "timeout": 1.0}
    options.update(compression=Compression.NoCompression, session=Kept())
    exporter = _http_class()(lambda spans: b"otelkit.probe" * len(spans), **options)
    try:
        result = exporter.export([ReadableSpan("otelkit.probe")])
    finally:
        exporter.shutdown()
    return result is SpanExportResult.SUCCESS and sent == [b"otelkit.probe"]


# --- grpc ---------------------------------------------------------------------------------------


@functools.cache
def _grpc_class() -> Any:
    """The SDK's OTLP/gRPC span exporter, sending the request otelkit encoded."""
    module: Any = importlib.import_module(_MODULES[OTLP_GRPC_SPAN_ENCODING])
    request: Any = importlib.import_module(_REQUEST).ExportTraceServiceRequest
    base: type[SpanExporter] = module.OTLPSpanExporter

    class OwnEncodingSpanExporter(_WithEncoder, base):  # type: ignore[valid-type,misc]
        __module__ = base.__module__  # what tells the exporter's component type

        def _translate_data(self, data: Sequence[ReadableSpan]) -> Any:
            return request.FromString(self.otelkit_encode(data))

    return OwnEncodingSpanExporter


@seam(
    OTLP_GRPC_SPAN_ENCODING,
    feature="otelkit's OTLP span encoding (grpc)",
    fallback="spans are encoded by the SDK's OTLP encoder (the same request, slower)",
)
def _probe_grpc() -> bool:
    """An export through a stand-in client that keeps the request: otelkit's, decoded."""
    if not _loaded(OTLP_GRPC_SPAN_ENCODING):
        return True
    import grpc

    request: Any = importlib.import_module(_REQUEST).ExportTraceServiceRequest
    expected = request()
    expected.resource_spans.add().scope_spans.add().spans.add().name = "otelkit.probe"
    sent: list[object] = []

    class Kept:
        def Export(self, request: Any, **kwargs: Any) -> None:  # noqa: N802  # the stub's name
            sent.append(request)

    options = {"endpoint": "127.0.0.1:9", "insecure": True, "headers": {}, "timeout": 0.5}
    options.update(compression=grpc.Compression.NoCompression)
    exporter = _grpc_class()(lambda spans: expected.SerializeToString(), **options)
    try:
        exporter._client = Kept()
        result = exporter.export([ReadableSpan("otelkit.probe")])
    finally:
        exporter.shutdown()
    return result is SpanExportResult.SUCCESS and sent == [expected]
